import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTenant, gql, registerUser, stack } from './client.ts';
import { shortLivedAccessToken } from './db.ts';
import { startExtraRouter } from './extra-router.ts';
import { waitFor, watch, wsClients, wsUrl } from './ws.ts';

const ws = wsClients();
const connect = ws.connect;
afterAll(() => ws.disposeAll());

const usageUpdated =
  'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id model inputTokens costUsd occurredAt organization { id name } project { name } } }';
const record = (apiKey: string, model = 'gpt-4o-mini') =>
  gql(
    'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
    { input: { model, inputTokens: 100, outputTokens: 50, latencyMs: 10 } },
    { token: apiKey },
  );

// Subscriptions are registered asynchronously after the subscribe message: give the server a beat.
const settled = () => new Promise((r) => setTimeout(r, 400));

describe('usageUpdated over graphql-ws', () => {
  it('delivers a recorded event with fields of other subgraphs resolved', async () => {
    const tenant = await createTenant();
    const sub = watch(connect(`Bearer ${tenant.user.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await settled();
    expect((await record(tenant.apiKey)).data).toEqual({ recordUsage: { accepted: 1 } });
    expect(await waitFor(() => sub.results.length === 1)).toBe(true);
    expect(sub.results[0]).toEqual({
      data: {
        usageUpdated: {
          id: expect.any(String),
          model: 'gpt-4o-mini',
          inputTokens: 100,
          costUsd: expect.closeTo((100 * 0.15 + 50 * 0.6) / 1_000_000, 12),
          occurredAt: expect.any(String),
          organization: { id: tenant.organizationId, name: 'Tenant' },
          project: { name: 'Project' },
        },
      },
    });
    sub.stop();
  });

  it('delivers once an event appended again by the retry of a request whose append was not acknowledged', async () => {
    const tenant = await createTenant();
    const sub = watch(connect(`Bearer ${tenant.user.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await settled();
    const recordKeyed = () =>
      gql(
        'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
        { input: { model: 'gpt-4o', inputTokens: 1, outputTokens: 1, latencyMs: 1, idempotencyKey: 'appended-twice' } },
        { token: tenant.apiKey },
      );
    expect((await recordKeyed()).data).toEqual({ recordUsage: { accepted: 1 } });
    // The claim as an unacknowledged attempt leaves it (subgraphs/usage/idempotency.ts): the retry appends the event again.
    const redis = new Redis(stack.redisUrl, { keyPrefix: stack.env['REDIS_KEY_PREFIX'] ?? '' });
    await redis.set(`idem:${tenant.apiKeyId}:${createHash('sha256').update('appended-twice').digest('base64url')}`, 'pending', 'KEEPTTL');
    redis.disconnect();
    expect((await recordKeyed()).data).toEqual({ recordUsage: { accepted: 1 } });
    await record(tenant.apiKey);
    expect(await waitFor(() => sub.results.length >= 2)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.results.map((r) => r.data.usageUpdated.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    sub.stop();
  });

  it("never shows one organization's events to another's subscriber", async () => {
    const a = await createTenant();
    const b = await createTenant();
    const subA = watch(connect(a.apiKey), usageUpdated, { org: a.organizationId });
    const subB = watch(connect(`Bearer ${b.user.accessToken}`), usageUpdated, { org: b.organizationId });
    await settled();
    await record(b.apiKey, 'gpt-4o');
    await record(a.apiKey, 'gpt-4o-mini');
    expect(await waitFor(() => subA.results.length >= 1 && subB.results.length >= 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(subA.results.map((r) => r.data.usageUpdated.organization.id)).toEqual([a.organizationId]);
    expect(subB.results.map((r) => r.data.usageUpdated.organization.id)).toEqual([b.organizationId]);
  });

  it('refuses subscriptions to another tenant, and keys without usage:read', async () => {
    const a = await createTenant();
    const b = await createTenant(['usage:write']);
    const other = watch(connect(`Bearer ${b.user.accessToken}`), usageUpdated, { org: a.organizationId });
    await other.done;
    expect(JSON.stringify(other.errors)).toContain('FORBIDDEN');
    const noScope = watch(connect(b.apiKey), usageUpdated, { org: b.organizationId });
    await noScope.done;
    expect(JSON.stringify(noScope.errors)).toContain('FORBIDDEN');
    // An anonymous connection lacks credentials rather than a right: UNAUTHENTICATED.
    const anonymous = watch(connect(), usageUpdated, { org: a.organizationId });
    await anonymous.done;
    expect(anonymous.errors).toEqual([[expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })]]);
  });

  it('answers malformed subscriptions with errors and bad credentials with close code 4403', async () => {
    const tenant = await createTenant();
    const client = connect(tenant.apiKey);
    const invalid = watch(client, 'subscription { usageUpdated(organizationId: "x") { nope } }', {});
    await invalid.done;
    expect(JSON.stringify(invalid.errors)).toContain('GRAPHQL_VALIDATION_FAILED');
    const query = watch(client, '{ me { id } }', {});
    await query.done;
    expect(JSON.stringify(query.errors)).toContain('Only subscriptions');

    const closed = await new Promise<number>((resolve) => {
      const socket = new WebSocket(wsUrl(stack.routerUrl), 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer not-a-token' } })));
      socket.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(4403);
  });

  it('drops events for a client that stopped reading, counts them, and never delays the others', async () => {
    const tenant = await createTenant(['usage:write', 'usage:read']);
    const reader = watch(connect(tenant.apiKey), usageUpdated, { org: tenant.organizationId });
    // A client that subscribes, then stops reading its socket.
    const stalled = new WebSocket(wsUrl(stack.routerUrl), 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      stalled.once('error', reject);
      stalled.once('open', () => stalled.send(JSON.stringify({ type: 'connection_init', payload: { authorization: tenant.apiKey } })));
      stalled.on('message', (raw) => {
        if (JSON.parse(String(raw)).type !== 'connection_ack') return;
        stalled.send(
          JSON.stringify({ id: 'stalled', type: 'subscribe', payload: { query: usageUpdated, variables: { org: tenant.organizationId } } }),
        );
        resolve();
      });
    });
    await settled();
    // ws keeps the connection private; pausing it is how a test stops reading.
    (stalled as unknown as { _socket: import('node:net').Socket })._socket.pause();

    const metricsUrl = new URL('/metrics', stack.routerUrl).toString();
    const dropped = async () =>
      Number((await (await fetch(metricsUrl)).text()).match(/^mw_router_subscription_events_dropped_total (\d+)/m)?.[1] ?? 0);
    const before = await dropped();
    const batch = Array.from({ length: 1_000 }, () => ({ model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50, latencyMs: 10 }));
    let sent = 0;
    // Kernel buffers take several MB before the router's 1 MiB bound is reached.
    for (let i = 0; i < 120 && (await dropped()) === before; i++) {
      const result = await gql(
        'mutation ($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { accepted } }',
        { inputs: batch },
        { token: tenant.apiKey },
      );
      sent += (result.data as { recordUsageBatch: { accepted: number } }).recordUsageBatch.accepted;
    }
    expect(await dropped()).toBeGreaterThan(before);
    expect(await waitFor(() => reader.results.length === sent, 20_000)).toBe(true);
    stalled.terminate();
  }, 90_000);
});

describe('who sees what, over time', () => {
  it("resolves each user's subscription as that user: a member never gets what only an owner may see", async () => {
    const tenant = await createTenant();
    const member = await registerUser('Member');
    const added = await gql(
      'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }',
      { input: { organizationId: tenant.organizationId, userId: member.userId, role: 'MEMBER' } },
      { token: tenant.user.accessToken },
    );
    expect(added.errors).toBeUndefined();
    const hook = await gql(
      'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }',
      { input: { organizationId: tenant.organizationId, url: 'http://127.0.0.1:9/owners-only', eventTypes: ['usage.recorded'] } },
      { token: tenant.user.accessToken },
    );
    expect(hook.errors).toBeUndefined();
    // The same selection, the owner first: alike subscribers share one resolution per burst.
    const selection = 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id organization { webhookEndpoints { url } } } }';
    const owner = watch(connect(`Bearer ${tenant.user.accessToken}`), selection, { org: tenant.organizationId });
    await settled();
    const asMember = watch(connect(`Bearer ${member.accessToken}`), selection, { org: tenant.organizationId });
    await settled();
    await record(tenant.apiKey);
    expect(await waitFor(() => owner.results.length === 1 && asMember.results.length === 1)).toBe(true);
    expect(owner.results[0]!.data.usageUpdated.organization.webhookEndpoints).toEqual([{ url: 'http://127.0.0.1:9/owners-only' }]);
    expect(JSON.stringify(asMember.results[0])).not.toContain('owners-only');
    expect(asMember.results[0]!.errors?.[0]?.extensions?.code).toMatch(/FORBIDDEN|NOT_FOUND/);
  });

  it('resolves users of the same organizations and roles together, and others apart', async () => {
    const tenant = await createTenant();
    const [first, second] = await Promise.all([registerUser('First'), registerUser('Second')]);
    for (const member of [first, second]) {
      const added = await gql(
        'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }',
        { input: { organizationId: tenant.organizationId, userId: member.userId, role: 'MEMBER' } },
        { token: tenant.user.accessToken },
      );
      expect(added.errors).toBeUndefined();
    }
    const selection = 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id organization { name } } }';
    const subs = [first.accessToken, second.accessToken, tenant.user.accessToken].map((token) =>
      watch(connect(`Bearer ${token}`), selection, { org: tenant.organizationId }),
    );
    await settled();
    await record(tenant.apiKey);
    expect(await waitFor(() => subs.every((sub) => sub.results.length === 1))).toBe(true);
    const eventId = subs[0]!.results[0]!.data.usageUpdated.id as string;
    // One log line per resolution: the two members together, the owner (another role) apart.
    const resolutions = async () =>
      (await readFile(join(stack.logDir, 'router.log'), 'utf8'))
        .split('\n')
        .filter((line) => line.includes(`"requestId":"subscription-${eventId}"`) && line.includes('"msg":"operation"')).length;
    let count = 0;
    for (let i = 0; i < 50 && count < 2; i++) {
      count = await resolutions();
      if (count < 2) await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await resolutions()).toBe(2);
  });

  it('closes a connection with 4403 when the access token it was opened with expires', async () => {
    const tenant = await createTenant();
    const token = await shortLivedAccessToken(tenant.user.userId, 2);
    const sub = watch(connect(`Bearer ${token}`), usageUpdated, { org: tenant.organizationId });
    await settled();
    expect(sub.errors).toEqual([]);
    await sub.done;
    expect((sub.errors[0] as { code?: number }).code).toBe(4403);
  });

  it('closes a connection with 4403 once the API key it was opened with is revoked', async () => {
    const tenant = await createTenant();
    const sub = watch(connect(tenant.apiKey), usageUpdated, { org: tenant.organizationId });
    await settled();
    const revoked = await gql(
      'mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: tenant.apiKeyId },
      { token: tenant.user.accessToken },
    );
    expect(revoked.errors).toBeUndefined();
    // The test stack checks keys again every second (SUBSCRIPTION_KEY_RECHECK_SECONDS).
    await sub.done;
    expect((sub.errors[0] as { code?: number }).code).toBe(4403);
  });
});

describe('a slow subgraph', () => {
  // The router resolves `organization` through this proxy, which answers accounts' replies 3 s late.
  let slowAccounts: Server;
  let router: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    const accountsUrl = /accounts=([^,]+)/.exec(stack.env['SUBGRAPH_URLS']!)![1]!;
    slowAccounts = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[0] !== 'host' && entry[0] !== 'content-length',
          ),
        );
        const answer = await fetch(accountsUrl, { method: req.method, headers, body: Buffer.concat(chunks) });
        const body = Buffer.from(await answer.arrayBuffer());
        setTimeout(
          () => res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(body),
          3_000,
        );
      });
    });
    await new Promise<void>((resolve) => slowAccounts.listen(0, '127.0.0.1', resolve));
    const port = (slowAccounts.address() as { port: number }).port;
    router = await startExtraRouter('router-slow-accounts', {
      SUBGRAPH_URLS: stack.env['SUBGRAPH_URLS']!.replace(/accounts=[^,]+/, `accounts=http://127.0.0.1:${port}/graphql`),
    });
  });
  afterAll(async () => {
    await router.stop();
    slowAccounts.closeAllConnections();
    slowAccounts.close();
  });

  it('delays only the subscriptions whose selection needs it', async () => {
    const tenant = await createTenant();
    const needsAccounts = watch(
      connect(tenant.apiKey, router.url),
      'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id organization { name } } }',
      { org: tenant.organizationId },
    );
    const usageOnly = watch(
      connect(tenant.apiKey, router.url),
      'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id model } }',
      { org: tenant.organizationId },
    );
    await settled();
    await record(tenant.apiKey);
    expect(await waitFor(() => usageOnly.results.length === 1)).toBe(true);
    // The slow resolution of the first event is still under way: the next one is not held behind it.
    const recordedAt = Date.now();
    await record(tenant.apiKey);
    expect(await waitFor(() => usageOnly.results.length === 2)).toBe(true);
    expect(Date.now() - recordedAt).toBeLessThan(2_000);
    expect(needsAccounts.results).toHaveLength(0);
    expect(await waitFor(() => needsAccounts.results.length === 2, 15_000)).toBe(true);
  });
});

describe('several router instances', () => {
  let second: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    second = await startExtraRouter('router-subscriptions', {});
  });
  afterAll(() => second.stop());

  it('each deliver to their own subscribers', async () => {
    const tenant = await createTenant();
    const one = watch(connect(tenant.apiKey), usageUpdated, { org: tenant.organizationId });
    const two = watch(connect(tenant.apiKey, second.url), usageUpdated, { org: tenant.organizationId });
    await settled();
    await record(tenant.apiKey);
    expect(await waitFor(() => one.results.length === 1 && two.results.length === 1)).toBe(true);
    expect(two.results[0]!.data.usageUpdated.id).toBe(one.results[0]!.data.usageUpdated.id);
  });
});
