import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { MeDocument, type MemberRole } from '@mindweave/sdk';
import { client, onSignedOut, session } from './api.ts';
import { basePath, graphqlUrl } from './config.ts';
import { describeError, type Problem } from './errors.ts';
import { useLoad } from './hooks.ts';
import { ExportsPage } from './pages/exports.tsx';
import { KeysPage } from './pages/keys.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { UsagePage } from './pages/usage.tsx';
import { WebhooksPage } from './pages/webhooks.tsx';
import type { SessionUser } from './session.ts';
import { Loading, ProblemMessage } from './ui.tsx';

/** The organization and project the pages show, and the user's role there (for what FORBIDDEN means). */
export interface Scope {
  organization: { id: string; name: string };
  role: MemberRole;
  projects: readonly { id: string; name: string }[];
  project: { id: string; name: string } | undefined;
}

const pages = [
  { id: 'usage', label: 'Usage', Page: UsagePage },
  { id: 'keys', label: 'API keys', Page: KeysPage },
  { id: 'policies', label: 'Policies', Page: PoliciesPage },
  { id: 'webhooks', label: 'Webhooks', Page: WebhooksPage },
  { id: 'exports', label: 'Exports', Page: ExportsPage },
] as const;
type PageId = (typeof pages)[number]['id'];

const pageOfPath = (pathname: string): PageId => {
  const id = pathname.startsWith(basePath) ? pathname.slice(basePath.length).split('/')[0] : '';
  return pages.find((p) => p.id === id)?.id ?? 'usage';
};

/** The page from the address (/dashboard/keys...), kept in step with the browser's history. */
function usePage(): [PageId, (page: PageId) => void] {
  const [page, setPage] = useState(() => pageOfPath(window.location.pathname));
  useEffect(() => {
    const onPop = () => setPage(pageOfPath(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = useCallback((next: PageId) => {
    window.history.pushState(null, '', `${basePath}${next === 'usage' ? '' : next}`);
    setPage(next);
  }, []);
  return [page, go];
}

/** A choice kept in localStorage, so that the dashboard opens where it was left. */
function useRemembered(key: string): [string | undefined, (value: string) => void] {
  const [value, setValue] = useState(() => window.localStorage.getItem(key) ?? undefined);
  useEffect(() => setValue(window.localStorage.getItem(key) ?? undefined), [key]);
  const remember = useCallback(
    (next: string) => {
      window.localStorage.setItem(key, next);
      setValue(next);
    },
    [key],
  );
  return [value, remember];
}

export function App() {
  const [user, setUser] = useState<SessionUser | 'resuming' | undefined>(() => (session.resumable ? 'resuming' : undefined));
  const [notice, setNotice] = useState<string>();
  useEffect(() => {
    if (user !== 'resuming') return;
    session.resume().then(
      (resumed) => setUser(resumed),
      () => setUser(undefined),
    );
  }, [user]);
  useEffect(
    () =>
      onSignedOut(() => {
        setUser(undefined);
        setNotice('Your session has ended. Sign in again.');
      }),
    [],
  );
  if (user === 'resuming') return <Loading what="your session" />;
  if (!user)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(signedIn) => {
          setNotice(undefined);
          setUser(signedIn);
        }}
      />
    );
  return (
    <Workspace
      user={user}
      onSignOut={async () => {
        await session.signOut();
        await client.close();
        setUser(undefined);
      }}
    />
  );
}

function SignIn({ notice, onSignedIn }: { notice: string | undefined; onSignedIn: (user: SessionUser) => void }) {
  const [mfaToken, setMfaToken] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [pending, setPending] = useState(false);
  const codeInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Sign in · MindWeave';
  }, []);
  useEffect(() => {
    if (mfaToken) codeInput.current?.focus();
  }, [mfaToken]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setProblem(undefined);
    try {
      if (mfaToken) {
        onSignedIn(await session.verifyMfa(mfaToken, String(form.get('code')).trim()));
        return;
      }
      const result = await session.signIn(String(form.get('email')).trim(), String(form.get('password')));
      if (result.kind === 'mfa') setMfaToken(result.mfaToken);
      else onSignedIn(result.user);
    } catch (error) {
      const described = describeError(error);
      // A wrong password answers UNAUTHENTICATED, which elsewhere means "signed out".
      setProblem(
        (error as { code?: string }).code === 'UNAUTHENTICATED'
          ? {
              ...described,
              title: mfaToken
                ? 'That code is not right, or it has expired. Try the current one.'
                : 'That email and password do not match an account.',
            }
          : described,
      );
    } finally {
      setPending(false);
    }
  }

  return (
    <main className="sign-in" id="main">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">MindWeave</h1>
        <p className="muted">
          {mfaToken ? 'Enter the 6-digit code from your authenticator app.' : 'Sign in to see your organization’s usage.'}
        </p>
        {notice && !problem ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        {mfaToken ? (
          <label>
            Authentication code
            <input ref={codeInput} name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required />
          </label>
        ) : (
          <>
            <label>
              Email
              {/* biome-ignore lint/a11y/noAutofocus: the sign-in page is this one form; keyboard users start typing at once (e2e/dashboard.e2e.ts) */}
              <input name="email" type="email" autoComplete="username" required autoFocus />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
          </>
        )}
        <ProblemMessage problem={problem} />
        <button type="submit" disabled={pending}>
          {pending ? 'Signing in…' : mfaToken ? 'Verify' : 'Sign in'}
        </button>
        {mfaToken ? (
          <button
            type="button"
            className="link"
            onClick={() => {
              setMfaToken(undefined);
              setProblem(undefined);
            }}
          >
            Use another account
          </button>
        ) : null}
      </form>
    </main>
  );
}

function Workspace({ user, onSignOut }: { user: SessionUser; onSignOut: () => void }) {
  const me = useLoad(() => client.request(MeDocument), [user.id]);
  const [page, go] = usePage();
  const [organizationId, setOrganizationId] = useRemembered('mindweave.organization');
  const memberships = me.data?.me?.memberships ?? [];
  const membership = memberships.find((m) => m.organization.id === organizationId) ?? memberships[0];
  const [projectId, setProjectId] = useRemembered(`mindweave.project.${membership?.organization.id ?? ''}`);
  const heading = useRef<HTMLHeadingElement>(null);
  const current = pages.find((p) => p.id === page)!;

  const scope = useMemo<Scope | undefined>(() => {
    if (!membership) return undefined;
    const { organization, role } = membership;
    const project = organization.projects.find((p) => p.id === projectId) ?? organization.projects[0];
    return { organization: { id: organization.id, name: organization.name }, role, projects: organization.projects, project };
  }, [membership, projectId]);

  useEffect(() => {
    document.title = `${current.label} · ${scope?.organization.name ?? 'MindWeave'}`;
  }, [current, scope?.organization.name]);

  const navigate = (next: PageId) => {
    go(next);
    // The page changed without a load: move the focus to its heading, as a load would for a screen reader.
    requestAnimationFrame(() => heading.current?.focus());
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">MindWeave</span>
        {scope ? (
          <div className="pickers">
            <label htmlFor="organization">Organization</label>
            <select id="organization" value={scope.organization.id} onChange={(e) => setOrganizationId(e.target.value)}>
              {memberships.map((m) => (
                <option key={m.organization.id} value={m.organization.id}>
                  {m.organization.name}
                </option>
              ))}
            </select>
            <label htmlFor="project">Project</label>
            <select
              id="project"
              value={scope.project?.id ?? ''}
              onChange={(e) => setProjectId(e.target.value)}
              disabled={!scope.projects.length}
            >
              {scope.projects.length ? null : <option value="">No projects</option>}
              {scope.projects.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
            <span className="role" title="Your role in this organization">
              {scope.role.toLowerCase()}
            </span>
          </div>
        ) : null}
        <div className="account">
          <span>{user.email}</span>
          <button type="button" className="secondary" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <div className="layout">
        <nav aria-label="Dashboard">
          <ul>
            {pages.map((p) => (
              <li key={p.id}>
                <a
                  href={`${basePath}${p.id === 'usage' ? '' : p.id}`}
                  aria-current={p.id === page ? 'page' : undefined}
                  onClick={(event) => {
                    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                    event.preventDefault();
                    navigate(p.id);
                  }}
                >
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
          <p className="ide-link">
            <a href={graphqlUrl} target="_blank" rel="noreferrer">
              GraphQL IDE
            </a>
          </p>
        </nav>
        <main id="main">
          <h1 ref={heading} tabIndex={-1}>
            {current.label}
          </h1>
          <ProblemMessage problem={me.problem} onRetry={me.reload} />
          {me.loading && !me.data ? <Loading what="your organizations" /> : null}
          {me.data && !scope ? (
            <p>You are not a member of any organization yet. Ask an owner to add you, or create one through the API.</p>
          ) : null}
          {scope ? <current.Page key={scope.organization.id} scope={scope} /> : null}
        </main>
      </div>
    </>
  );
}
