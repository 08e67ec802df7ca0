import { useState, type FormEvent } from 'react';
import { CreateApiKeyDocument, OrganizationDocument, RevokeApiKeyDocument } from '@mindweave/sdk';
import { client } from '../api.ts';
import type { Scope } from '../app.tsx';
import { managers } from '../errors.ts';
import { formatDateTime } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { ConfirmDialog, Empty, Loading, Panel, ProblemMessage, SecretDialog, SubmitButton, Table } from '../ui.tsx';

/** The scopes a key may hold (README: "Authorization directives"), with what each one lets a program do. */
const scopes = [
  { scope: 'usage:write', what: 'record usage' },
  { scope: 'usage:read', what: 'read usage and watch it live' },
  { scope: 'projects:read', what: 'read projects' },
  { scope: 'policies:read', what: 'read policies and their audit log' },
  { scope: 'exports:write', what: 'request exports' },
  { scope: 'mcp:read', what: 'read private MCP servers' },
  { scope: 'mcp:write', what: 'publish MCP servers' },
] as const;

export function KeysPage({ scope }: { scope: Scope }) {
  const project = scope.project;
  const keys = useLoad(
    async () => {
      const { organization } = await client.request(OrganizationDocument, { id: scope.organization.id });
      return organization?.projects.find((p) => p.id === project?.id)?.apiKeys ?? [];
    },
    [scope.organization.id, project?.id],
    { action: 'see API keys', role: scope.role },
  );
  const create = useAction(
    (input: { name: string; scopes: string[] }) => client.request(CreateApiKeyDocument, { input: { projectId: project!.id, ...input } }),
    {
      action: 'create API keys',
      roles: managers,
      role: scope.role,
    },
  );
  const revoke = useAction((id: string) => client.request(RevokeApiKeyDocument, { id }), {
    action: 'revoke API keys',
    roles: managers,
    role: scope.role,
  });
  const [created, setCreated] = useState<{ key: string; name: string }>();
  const [revoking, setRevoking] = useState<{ id: string; name: string }>();

  if (!project) return <Empty>This organization has no projects yet. API keys belong to a project.</Empty>;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const result = await create.run({ name: String(data.get('name')).trim(), scopes: data.getAll('scopes').map(String) });
    if (!result) return;
    setCreated({ key: result.createApiKey.key, name: result.createApiKey.apiKey.name });
    form.reset();
    keys.reload();
  }

  return (
    <div className="keys">
      <Panel title={`New key for ${project.name}`}>
        <form className="inline-form" onSubmit={submit}>
          <label>
            Name
            <input name="name" required maxLength={100} placeholder="e.g. production backend" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {scopes.map(({ scope: value, what }) => (
              <label key={value} className="check">
                <input type="checkbox" name="scopes" value={value} defaultChecked={value === 'usage:write' || value === 'usage:read'} />
                <code>{value}</code> <span className="muted">{what}</span>
              </label>
            ))}
          </fieldset>
          <SubmitButton pending={create.pending} pendingText="Creating…">
            Create key
          </SubmitButton>
        </form>
        <ProblemMessage problem={create.problem} />
      </Panel>

      <Panel title={`Keys of ${project.name}`}>
        <ProblemMessage problem={keys.problem} onRetry={keys.reload} />
        <ProblemMessage problem={revoke.problem} />
        {keys.loading && !keys.data ? <Loading what="keys" /> : null}
        {keys.data?.length === 0 ? <Empty>No keys yet.</Empty> : null}
        {keys.data?.length ? (
          <Table columns={['Name', 'Key', 'Scopes', 'Created', 'Last used', 'Status', { hidden: 'Actions' }]}>
            {keys.data.map((key) => (
              <tr key={key.id}>
                <th scope="row">{key.name}</th>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{formatDateTime(key.createdAt)}</td>
                <td>{key.lastUsedAt ? formatDateTime(key.lastUsedAt) : 'never'}</td>
                <td>
                  {key.revokedAt ? (
                    <span className="tag danger">Revoked {formatDateTime(key.revokedAt)}</span>
                  ) : (
                    <span className="tag ok">Active</span>
                  )}
                </td>
                <td>
                  {key.revokedAt ? null : (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => setRevoking({ id: key.id, name: key.name })}
                      aria-label={`Revoke ${key.name}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        ) : null}
      </Panel>

      {created ? (
        <SecretDialog title={`Your new key “${created.name}”`} secret={created.key} onClose={() => setCreated(undefined)}>
          MindWeave keeps only a hash of it.
        </SecretDialog>
      ) : null}

      {revoking ? (
        <ConfirmDialog
          title={`Revoke “${revoking.name}”?`}
          confirm="Revoke key"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => (await revoke.run(revoking.id)) && keys.reload()}
        >
          <p>Programs using this key are refused from the next request on, and its live connections are closed. This cannot be undone.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
