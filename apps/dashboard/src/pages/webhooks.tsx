import { useState, type FormEvent } from 'react';
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  EnableWebhookEndpointDocument,
  WebhookEndpointDocument,
  WebhookEndpointsDocument,
} from '@mindweave/sdk';
import { client } from '../api.ts';
import type { Scope } from '../app.tsx';
import { managers, type Attempt } from '../errors.ts';
import { formatDateTime } from '../format.ts';
import { useAction, useLoad, usePages } from '../hooks.ts';
import { ConfirmDialog, Empty, Loading, MoreButton, Panel, ProblemMessage, SecretDialog, SubmitButton, Table } from '../ui.tsx';

/** The event types an endpoint may ask for (CreateWebhookEndpointInput.eventTypes). */
const eventTypes = ['usage.recorded', 'policy.changed', 'policy.violated', 'mcp.server.published', 'export.completed'];

export function WebhooksPage({ scope }: { scope: Scope }) {
  const organizationId = scope.organization.id;
  const attempt = (action: string): Attempt => ({ action, roles: managers, role: scope.role });
  const endpoints = useLoad(
    async () => (await client.request(WebhookEndpointsDocument, { organizationId })).organization?.webhookEndpoints ?? [],
    [organizationId],
    attempt('see webhook endpoints'),
  );
  const [selected, setSelected] = useState<string>();
  const current = endpoints.data?.find((e) => e.id === selected) ?? endpoints.data?.[0];
  const create = useAction(
    (input: { url: string; eventTypes: string[]; description: string | null }) =>
      client.request(CreateWebhookEndpointDocument, { input: { organizationId, ...input } }),
    attempt('add webhook endpoints'),
  );
  const enable = useAction(
    (id: string) => client.request(EnableWebhookEndpointDocument, { id }),
    attempt('turn webhook endpoints back on'),
  );
  const remove = useAction((id: string) => client.request(DeleteWebhookEndpointDocument, { id }), attempt('delete webhook endpoints'));
  const [secret, setSecret] = useState<{ url: string; secret: string }>();
  const [deleting, setDeleting] = useState<{ id: string; url: string }>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const description = String(data.get('description') ?? '').trim();
    const result = await create.run({
      url: String(data.get('url')).trim(),
      eventTypes: data.getAll('eventTypes').map(String),
      description: description || null,
    });
    if (!result) return;
    setSecret({ url: result.createWebhookEndpoint.endpoint.url, secret: result.createWebhookEndpoint.secret });
    setSelected(result.createWebhookEndpoint.endpoint.id);
    form.reset();
    endpoints.reload();
  }

  return (
    <div className="webhooks">
      <Panel title="Endpoints">
        <ProblemMessage problem={endpoints.problem} onRetry={endpoints.reload} />
        <ProblemMessage problem={enable.problem ?? remove.problem} />
        {endpoints.loading && !endpoints.data ? <Loading what="endpoints" /> : null}
        {endpoints.data?.length === 0 ? <Empty>No endpoints. Add one below to receive events as they happen.</Empty> : null}
        {endpoints.data?.length ? (
          <Table columns={['URL', 'Events', 'State', { hidden: 'Actions' }]}>
            {endpoints.data.map((endpoint) => (
              <tr key={endpoint.id} className={endpoint.id === current?.id ? 'current' : undefined}>
                <th scope="row">
                  <button
                    type="button"
                    className="link"
                    aria-pressed={endpoint.id === current?.id}
                    onClick={() => setSelected(endpoint.id)}
                  >
                    {endpoint.url}
                  </button>
                  {endpoint.description ? <span className="muted"> {endpoint.description}</span> : null}
                </th>
                <td>{endpoint.eventTypes.join(', ')}</td>
                <td>
                  {endpoint.enabled ? (
                    <span className="tag ok">
                      Enabled{endpoint.consecutiveFailures ? `, ${endpoint.consecutiveFailures} failed in a row` : ''}
                    </span>
                  ) : (
                    <span className="tag danger">Disabled{endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}</span>
                  )}
                </td>
                <td className="actions">
                  {endpoint.enabled ? null : (
                    <button type="button" className="secondary" onClick={async () => (await enable.run(endpoint.id)) && endpoints.reload()}>
                      Turn on
                    </button>
                  )}
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Delete ${endpoint.url}`}
                    onClick={() => setDeleting({ id: endpoint.id, url: endpoint.url })}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        ) : null}
      </Panel>

      {current ? <Deliveries key={current.id} endpointId={current.id} url={current.url} attempt={attempt('see deliveries')} /> : null}

      <Panel title="Add an endpoint">
        <form className="inline-form" onSubmit={submit}>
          <label>
            URL
            <input name="url" type="url" required placeholder="https://example.com/mindweave" />
          </label>
          <label>
            Description (optional)
            <input name="description" maxLength={200} />
          </label>
          <fieldset>
            <legend>Events</legend>
            {eventTypes.map((type) => (
              <label key={type} className="check">
                <input type="checkbox" name="eventTypes" value={type} defaultChecked={type === 'usage.recorded'} />
                <code>{type}</code>
              </label>
            ))}
          </fieldset>
          <SubmitButton pending={create.pending} pendingText="Adding…">
            Add endpoint
          </SubmitButton>
        </form>
        <ProblemMessage problem={create.problem} />
      </Panel>

      {secret ? (
        <SecretDialog title="Signing secret" secret={secret.secret} onClose={() => setSecret(undefined)}>
          {secret.url} verifies each delivery’s <code>MindWeave-Signature</code> with it.
        </SecretDialog>
      ) : null}

      {deleting ? (
        <ConfirmDialog
          title="Delete this endpoint?"
          confirm="Delete endpoint"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => (await remove.run(deleting.id)) && endpoints.reload()}
        >
          <p>{deleting.url} stops receiving events, and its delivery log is deleted.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function Deliveries({ endpointId, url, attempt }: { endpointId: string; url: string; attempt: Attempt }) {
  const deliveries = usePages(
    async (after) => {
      const endpoint = (await client.request(WebhookEndpointDocument, { id: endpointId, first: 20, after })).webhookEndpoint;
      return {
        items: endpoint?.deliveries.edges.map((e) => e.node) ?? [],
        pageInfo: endpoint?.deliveries.pageInfo ?? { hasNextPage: false },
      };
    },
    [endpointId],
    attempt,
  );
  return (
    <Panel
      title={`Deliveries to ${url}`}
      actions={
        <button type="button" className="secondary" onClick={deliveries.reload}>
          Refresh
        </button>
      }
    >
      <ProblemMessage problem={deliveries.problem} onRetry={deliveries.reload} />
      {deliveries.loading && !deliveries.items ? <Loading what="deliveries" /> : null}
      {deliveries.items?.length === 0 ? <Empty>Nothing delivered yet.</Empty> : null}
      {deliveries.items?.length ? (
        <Table columns={['When', 'Event', 'Attempt', 'Result', 'Latency', 'Response']}>
          {deliveries.items.map((delivery) => (
            <tr key={delivery.id}>
              <td>{formatDateTime(delivery.createdAt)}</td>
              <th scope="row">
                <code>{delivery.eventType}</code>
              </th>
              <td>{delivery.attempt}</td>
              <td>
                <span className={`tag ${delivery.status === 'SUCCEEDED' ? 'ok' : 'danger'}`}>
                  {delivery.status === 'SUCCEEDED' ? 'Delivered' : 'Failed'}
                  {delivery.httpStatus ? ` (HTTP ${delivery.httpStatus})` : ''}
                </span>
              </td>
              <td>{delivery.latencyMs} ms</td>
              <td className="excerpt">{delivery.error ?? delivery.responseExcerpt ?? ''}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      <MoreButton pages={deliveries} what="deliveries" />
    </Panel>
  );
}
