import {
  LoginDocument,
  LogoutDocument,
  MindWeaveError,
  RefreshTokenDocument,
  VerifyMfaLoginDocument,
  type MindWeaveClient,
  type SessionFragment,
} from '@mindweave/sdk';

/** The part of the Web Storage API the session uses (sessionStorage in the browser). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SessionUser {
  id: string;
  email: string;
  name: string;
}

export type SignInResult = { kind: 'signedIn'; user: SessionUser } | { kind: 'mfa'; mfaToken: string };

const refreshKey = 'mindweave.refreshToken';

/** When an access token (a JWT) expires, in ms since the epoch; 0 when it cannot be read. */
export function expiryOf(accessToken: string): number {
  try {
    const payload = accessToken.split('.')[1] ?? '';
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}

/**
 * A signed-in user's tokens. The access token lives in memory only; the refresh token in `store`
 * (the tab's sessionStorage), so that a reload stays signed in and closing the tab signs out.
 * `accessToken()` refreshes once the token is within `refreshMarginMs` of expiring, one refresh
 * at a time: identity rotates refresh tokens and treats a reused one as stolen, revoking the
 * whole sign-in, so two refreshes with the same token must never race.
 */
export function createSession(options: {
  client: MindWeaveClient;
  store: KeyValueStore;
  refreshMarginMs?: number;
  now?: () => number;
  onSignedOut?: () => void;
}) {
  const { client, store } = options;
  const margin = options.refreshMarginMs ?? 60_000;
  const now = options.now ?? Date.now;
  let access: { token: string; expiresAt: number } | undefined;
  let user: SessionUser | undefined;
  let refreshing: Promise<string> | undefined;

  function accept(session: SessionFragment): SessionUser {
    if (!session.accessToken || !session.refreshToken || !session.user) throw new Error('The sign-in answered without tokens');
    access = { token: session.accessToken, expiresAt: expiryOf(session.accessToken) };
    store.setItem(refreshKey, session.refreshToken);
    user = session.user;
    return user;
  }

  function forget() {
    access = undefined;
    user = undefined;
    store.removeItem(refreshKey);
  }

  async function refresh(): Promise<string> {
    const refreshToken = store.getItem(refreshKey);
    if (!refreshToken) throw new MindWeaveError('Sign in first', { code: 'UNAUTHENTICATED' });
    try {
      const { refreshToken: session } = await client.request(RefreshTokenDocument, { refreshToken });
      accept(session);
      return access!.token;
    } catch (error) {
      // A refused refresh token ends the session; a network failure or an outage does not.
      if (error instanceof MindWeaveError && (error.code === 'UNAUTHENTICATED' || error.code === 'BAD_USER_INPUT')) {
        forget();
        options.onSignedOut?.();
      }
      throw error;
    }
  }

  return {
    get user() {
      return user;
    },
    /** Whether a refresh token is kept (a reload can resume the session). */
    get resumable() {
      return store.getItem(refreshKey) !== null;
    },

    async signIn(email: string, password: string): Promise<SignInResult> {
      const { login } = await client.request(LoginDocument, { input: { email, password } });
      if (login.requiresMfa && login.mfaToken) return { kind: 'mfa', mfaToken: login.mfaToken };
      return { kind: 'signedIn', user: accept(login) };
    },

    /** Takes the tokens of a sign-in made elsewhere (register, or a test's own login). */
    adopt(session: SessionFragment): SessionUser {
      return accept(session);
    },

    async verifyMfa(mfaToken: string, code: string): Promise<SessionUser> {
      const { verifyMfaLogin } = await client.request(VerifyMfaLoginDocument, { mfaToken, code });
      return accept(verifyMfaLogin);
    },

    /** A valid access token, refreshed first when it is about to expire. For the SDK's `auth`. */
    accessToken(): Promise<string> {
      if (access && access.expiresAt - now() > margin) return Promise.resolve(access.token);
      refreshing ??= refresh().finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    },

    /** Resumes the tab's session after a reload: the user, or undefined when there is none to resume. */
    async resume(): Promise<SessionUser | undefined> {
      if (!this.resumable) return undefined;
      await this.accessToken();
      return user;
    },

    async signOut(): Promise<void> {
      const refreshToken = store.getItem(refreshKey);
      forget();
      if (refreshToken) await client.request(LogoutDocument, { refreshToken }).catch(() => undefined);
    },
  };
}

export type Session = ReturnType<typeof createSession>;
