import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyWebhookSignature } from '@mindweave/jobs';
import { createTenant, gql } from './client.ts';
import { sql } from './db.ts';

type Received = { at: number; headers: IncomingHttpHeaders; body: string };

/** A local receiver: it records every request and answers with `respond(n)` for the n-th one. */
async function receiver(respond: (n: number) => { status: number; body: string }) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = respond(received.length);
      res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hooks`, received, close: () => new Promise<void>((done) => server.close(() => done())) };
}

const createEndpoint = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes enabled consecutiveFailures } }
}`;
const deliveriesOf = `query ($id: ID!) {
  webhookEndpoint(id: $id) { id deliveries(first: 10) { edges { node { eventId eventType attempt status httpStatus latencyMs responseExcerpt error } } pageInfo { hasNextPage endCursor } } }
}`;
const recordUsage = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }';

describe('webhooks', () => {
  let good: Awaited<ReturnType<typeof receiver>>;
  let flaky: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    good = await receiver(() => ({ status: 200, body: 'thanks' }));
    flaky = await receiver((n) => (n <= 2 ? { status: 500, body: `boom ${n}` } : { status: 204, body: '' }));
  });
  afterAll(async () => {
    await Promise.all([good.close(), flaky.close()]);
  });

  it('delivers subscribed events signed so that verifyWebhookSignature accepts them, and a tampered one is rejected', async () => {
    const tenant = await createTenant();
    const created = await gql(
      createEndpoint,
      { input: { organizationId: tenant.organizationId, url: good.url, eventTypes: ['usage.recorded'], description: 'ingest' } },
      { token: tenant.user.accessToken },
    );
    expect(created.errors).toBeUndefined();
    const { secret, endpoint } = created.data!.createWebhookEndpoint;
    expect(secret).toMatch(/^whsec_/);
    // Kept sealed (README: Secrets at rest); the workers open it to sign.
    const [stored] = await sql<{ secret: string }>('SELECT secret FROM webhooks.webhook_endpoints WHERE id = $1', [endpoint.id]);
    expect(stored?.secret).toMatch(/^sealed:v1:/);
    expect(stored?.secret).not.toContain(secret.slice('whsec_'.length));
    expect(endpoint).toMatchObject({ url: good.url, eventTypes: ['usage.recorded'], enabled: true, consecutiveFailures: 0 });

    expect(
      (
        await gql(
          recordUsage,
          { input: { model: 'gpt-4o-mini', inputTokens: 12, outputTokens: 34, latencyMs: 56 } },
          { token: tenant.apiKey },
        )
      ).data,
    ).toEqual({ recordUsage: { accepted: 1 } });
    await vi.waitFor(() => expect(good.received.some((r) => r.body.includes(tenant.organizationId))).toBe(true), {
      timeout: 15_000,
      interval: 50,
    });
    const delivery = good.received.find((r) => r.body.includes(tenant.organizationId))!;

    const header = delivery.headers['mindweave-signature'] as string;
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret, header, body: delivery.body })).toMatchObject({ ok: true });
    expect(verifyWebhookSignature({ secret, header, body: delivery.body.replace('"inputTokens":12', '"inputTokens":99') })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature({ secret: `${secret}x`, header, body: delivery.body }).ok).toBe(false);

    const event = JSON.parse(delivery.body) as { id: string; type: string; organizationId: string; data: Record<string, unknown> };
    expect(event).toMatchObject({
      type: 'usage.recorded',
      organizationId: tenant.organizationId,
      data: { model: 'gpt-4o-mini', inputTokens: 12, outputTokens: 34 },
    });
    expect(delivery.headers['mindweave-event-id']).toBe(event.id);
    expect(delivery.headers['mindweave-event-type']).toBe('usage.recorded');

    const log = await gql(deliveriesOf, { id: endpoint.id }, { token: tenant.user.accessToken });
    expect(log.data!.webhookEndpoint.deliveries.edges.map((e: { node: unknown }) => e.node)).toEqual([
      {
        eventId: event.id,
        eventType: 'usage.recorded',
        attempt: 1,
        status: 'SUCCEEDED',
        httpStatus: 200,
        latencyMs: expect.any(Number),
        responseExcerpt: 'thanks',
        error: null,
      },
    ]);
  });

  it('retries a failing receiver with growing delays, logging every attempt', async () => {
    const tenant = await createTenant();
    const created = await gql(
      createEndpoint,
      { input: { organizationId: tenant.organizationId, url: flaky.url, eventTypes: ['usage.recorded'] } },
      { token: tenant.user.accessToken },
    );
    const { endpoint } = created.data!.createWebhookEndpoint;
    await gql(recordUsage, { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } }, { token: tenant.apiKey });

    await vi.waitFor(() => expect(flaky.received).toHaveLength(3), { timeout: 20_000, interval: 50 });
    const [first, second, third] = flaky.received as [Received, Received, Received];
    // Exponential backoff (base 200 ms in the test stack): at least 200 ms, then at least 400 ms.
    expect(second.at - first.at).toBeGreaterThanOrEqual(190);
    expect(third.at - second.at).toBeGreaterThanOrEqual(390);
    expect(new Set(flaky.received.map((r) => r.headers['mindweave-event-id'])).size).toBe(1);
    expect(flaky.received.map((r) => r.headers['mindweave-delivery-attempt'])).toEqual(['1', '2', '3']);

    await vi.waitFor(
      async () => {
        const log = await gql(deliveriesOf, { id: endpoint.id }, { token: tenant.user.accessToken });
        const nodes = log.data!.webhookEndpoint.deliveries.edges.map((e: { node: Record<string, unknown> }) => e.node);
        expect(nodes.map((n: Record<string, unknown>) => [n['attempt'], n['status'], n['httpStatus'], n['responseExcerpt']])).toEqual([
          [3, 'SUCCEEDED', 204, ''],
          [2, 'FAILED', 500, 'boom 2'],
          [1, 'FAILED', 500, 'boom 1'],
        ]);
        expect(nodes[1].error).toBe('the receiver answered 500');
      },
      { timeout: 10_000, interval: 100 },
    );
    const after = await gql(
      'query ($id: ID!) { organization(id: $id) { webhookEndpoints { id enabled consecutiveFailures } } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken },
    );
    expect(after.data!.organization.webhookEndpoints).toEqual([{ id: endpoint.id, enabled: true, consecutiveFailures: 0 }]);

    // Pages of the log follow the cursor.
    const page = await gql(
      'query ($id: ID!, $after: String) { webhookEndpoint(id: $id) { deliveries(first: 2, after: $after) { edges { node { attempt } } pageInfo { hasNextPage endCursor } } } }',
      { id: endpoint.id },
      { token: tenant.user.accessToken },
    );
    const { pageInfo } = page.data!.webhookEndpoint.deliveries;
    expect(pageInfo.hasNextPage).toBe(true);
    const next = await gql(
      'query ($id: ID!, $after: String) { webhookEndpoint(id: $id) { deliveries(first: 2, after: $after) { edges { node { attempt } } pageInfo { hasNextPage } } } }',
      { id: endpoint.id, after: pageInfo.endCursor },
      { token: tenant.user.accessToken },
    );
    expect(next.data!.webhookEndpoint.deliveries).toEqual({ edges: [{ node: { attempt: 1 } }], pageInfo: { hasNextPage: false } });
  });

  it('lets only owners and admins manage endpoints, validates them, and deletes them', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const input = { organizationId: tenant.organizationId, url: good.url, eventTypes: ['export.completed', 'policy.violated'] };

    const asStranger = await gql(createEndpoint, { input }, { token: other.user.accessToken });
    expect(asStranger.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const asApiKey = await gql(createEndpoint, { input }, { token: tenant.apiKey });
    expect(asApiKey.errors?.[0]?.extensions.code).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
    const badType = await gql(createEndpoint, { input: { ...input, eventTypes: ['user.created'] } }, { token: tenant.user.accessToken });
    expect(badType.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const badUrl = await gql(createEndpoint, { input: { ...input, url: 'ftp://example.com/hook' } }, { token: tenant.user.accessToken });
    expect(badUrl.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.url' });

    const created = await gql(createEndpoint, { input }, { token: tenant.user.accessToken });
    const id = created.data!.createWebhookEndpoint.endpoint.id as string;
    expect((await gql(deliveriesOf, { id }, { token: other.user.accessToken })).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect(
      (await gql('mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id }, { token: other.user.accessToken })).errors?.[0]
        ?.extensions.code,
    ).toBe('NOT_FOUND');
    expect((await gql('mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id }, { token: tenant.user.accessToken })).data).toEqual({
      deleteWebhookEndpoint: true,
    });
    const listed = await gql(
      'query ($id: ID!) { organization(id: $id) { webhookEndpoints { id } } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken },
    );
    expect(listed.data!.organization.webhookEndpoints).toEqual([]);
  });
});
