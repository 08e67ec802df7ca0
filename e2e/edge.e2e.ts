import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTenant, gql, registerUser, stack, unique } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

// A production-mode router with low limits, over the test stack's subgraphs and Redis.
const limits = {
  NODE_ENV: 'production',
  REDIS_KEY_PREFIX: `${stack.env['REDIS_KEY_PREFIX']}edge:`,
  MAX_OPERATION_COST: '200',
  COST_BUDGET_PER_MINUTE: '300',
  API_KEY_RATE_LIMIT_PER_MINUTE: '5',
  AUTH_RATE_LIMIT_PER_MINUTE: '3',
  MAX_DEPTH: '6',
  MAX_ALIASES: '3',
  MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
};
let edge: Awaited<ReturnType<typeof startExtraRouter>>;
beforeAll(async () => {
  edge = await startExtraRouter('router-edge', limits);
});
afterAll(() => edge.stop());

const deepQuery = '{ me { memberships { organization { projects { apiKeys { id } } } } } }';
const membershipsQuery = '{ me { memberships { organization { id } } } }'; // 1 + 50 x (1 + 1) = 101

async function servicesLogged(requestId: string) {
  await new Promise((r) => setTimeout(r, 300));
  const logs = await Promise.all(['identity.log', 'accounts.log'].map((f) => readFile(join(stack.logDir, f), 'utf8')));
  return logs.some((log) => log.includes(requestId));
}

describe('demand control', () => {
  it('refuses an operation above MAX_OPERATION_COST with its cost, calling no subgraph', async () => {
    const user = await registerUser();
    const requestId = unique('costly');
    const result = await gql(deepQuery, {}, { token: user.accessToken, url: edge.url, headers: { 'x-request-id': requestId } });
    expect(result.status).toBe(400);
    // me 1 + memberships 50 x (1 + organization (1 + projects 20 x (1 + apiKeys 10 x 1)))
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'COST_LIMIT_EXCEEDED', cost: 11101, maxCost: 200 });
    expect(await servicesLogged(requestId)).toBe(false);
  });

  it('returns the estimate when asked, and spends it from a per-identity budget', async () => {
    const user = await registerUser();
    const first = await gql(membershipsQuery, {}, { token: user.accessToken, url: edge.url, headers: { 'x-include-cost': 'true' } });
    expect(first.errors).toBeUndefined();
    expect(first.extensions).toEqual({ cost: { estimated: 101, max: 200 } });
    expect((await gql(membershipsQuery, {}, { token: user.accessToken, url: edge.url })).extensions).toBeUndefined();
    const third = await gql(membershipsQuery, {}, { token: user.accessToken, url: edge.url });
    expect(third.status).toBe(429);
    expect(third.errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another identity has its own budget.
    const other = await registerUser();
    expect((await gql(membershipsQuery, {}, { token: other.accessToken, url: edge.url })).errors).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('limits an API key per minute and says so in X-RateLimit-* on every response', async () => {
    const tenant = await createTenant();
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await gql('{ me { id } }', {}, { token: tenant.apiKey, url: edge.url });
      statuses.push(result.status);
      remaining.push(result.headers.get('x-ratelimit-remaining') ?? '');
      expect(result.headers.get('x-ratelimit-limit')).toBe('5');
      expect(result.headers.get('x-ratelimit-reset')).toMatch(/^\d+$/);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(remaining.slice(0, 5)).toEqual(['4', '3', '2', '1', '0']);
  });

  it('blocks logins to an email after too many attempts, even with the right password', async () => {
    const user = await registerUser();
    const login = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }';
    const attempt = (password: string) => gql(login, { input: { email: user.email, password } }, { url: edge.url });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong password!')).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    const limited = await attempt('wrong password!');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(800);
    const blocked = await attempt(user.password);
    expect(blocked.errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
  });
});

describe('document limits and production hardening', () => {
  it('refuses documents too deep or with too many aliases', async () => {
    const user = await registerUser();
    const deep = await gql(
      '{ me { memberships { organization { projects { organization { projects { id } } } } } } }',
      {},
      { token: user.accessToken, url: edge.url },
    );
    expect(deep.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(deep.errors?.[0]?.message).toMatch(/depth 7 exceeds the maximum of 6/);
    const aliases = await gql('{ a: me { id } b: me { id } c: me { id } d: me { id } }', {}, { token: user.accessToken, url: edge.url });
    expect(aliases.errors?.[0]?.message).toMatch(/4 aliases exceed the maximum of 3/);
  });

  it('answers no introspection and no field suggestions', async () => {
    const introspection = await gql('{ __schema { queryType { name } } }', {}, { url: edge.url });
    expect(introspection.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const typo = await gql('{ me { nam } }', {}, { url: edge.url });
    expect(typo.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('refuses batches while batching is off, and bodies over the limit', async () => {
    const batch = await fetch(edge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]),
    });
    expect(batch.status).toBe(400);
    expect(((await batch.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    const huge = await fetch(edge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ me { id } } # ${'x'.repeat(1_100_000)}` }),
    });
    expect(huge.status).toBe(400);
  });

  it('exports request, cost and rejection metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${edge.port}/metrics`)).text();
    expect(text).toMatch(/mw_router_rejections_total\{reason="cost_limit"\} [1-9]/);
    expect(text).toMatch(/mw_router_operation_estimated_cost_count\{operation="anonymous"\} [1-9]/);
    expect(text).toMatch(/mw_router_operation_actual_cost_count\{operation="anonymous"\} [1-9]/);
    expect(text).toMatch(/mw_router_operation_duration_seconds_bucket/);
    expect(text).toMatch(/mw_router_subgraph_fetch_duration_seconds_count\{subgraph="identity"/);
    expect(text).toMatch(/mw_router_websocket_connections 0/);
  });
});

describe('authorization directives', () => {
  it('removes the fields an API key lacks the scope for, and returns the rest', async () => {
    const tenant = await createTenant(['usage:write']);
    const result = await gql(
      'query ($id: ID!) { organization(id: $id) { id name projects { id } } }',
      { id: tenant.organizationId },
      { token: tenant.apiKey },
    );
    expect(result.data).toEqual({ organization: { id: tenant.organizationId, name: 'Tenant', projects: null } });
    expect(result.errors).toEqual([expect.objectContaining({ path: ['organization', 'projects'], extensions: { code: 'FORBIDDEN' } })]);
  });

  it('removes @authenticated fields for anonymous callers, as UNAUTHENTICATED: they lack credentials, not a role', async () => {
    const result = await gql('{ me { id } organization(id: "00000000-0000-4000-8000-000000000000") { id } }');
    expect(result.data).toEqual({ me: null, organization: null });
    expect(result.errors?.map((e) => [e.path, e.extensions.code, e.message])).toEqual([
      [['organization'], 'UNAUTHENTICATED', 'Sign in to see organization'],
    ]);
    // A field under an allowed one, and a scope-guarded field (projects:read) reached anonymously.
    const nested = await gql('{ mcpServers(first: 1) { edges { node { publisher { id projects { id } } } } } }');
    expect(nested.errors).toEqual([
      expect.objectContaining({ path: ['mcpServers', 'edges', 'node', 'publisher', 'projects'], extensions: { code: 'UNAUTHENTICATED' } }),
    ]);
  });
});

describe('subscriptions at the edge', () => {
  // A router with the same low limits that tails the test stack's event log, so that a subscription
  // can be seen to be taken: it delivers.
  let wsEdge: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    const { REDIS_KEY_PREFIX: _ownPrefix, ...sameLimits } = limits;
    wsEdge = await startExtraRouter('router-edge-ws', sameLimits);
  });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await wsEdge.stop();
  });
  const connect = (authorization: string) => {
    const client = createClient({
      url: wsEdge.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization },
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };
  type Refusal = { message: string; extensions: Record<string, unknown> }[];
  /** A subscription, told apart by what happens to it: refused with errors, or taken and delivering events. */
  const subscribe = (client: Client, selection: string, organizationId: string) => {
    let events = 0;
    const refused = new Promise<Refusal>((resolve) => {
      client.subscribe(
        { query: `subscription ($org: ID!) { usageUpdated(organizationId: $org) ${selection} }`, variables: { org: organizationId } },
        { next: () => void events++, error: (errors) => resolve(errors as Refusal), complete: () => resolve([]) },
      );
    });
    return { refused, delivered: () => events > 0 };
  };
  /**
   * Records events until every subscription has one: through the test stack's router, whose limits
   * are high, with a key of its own, so that the rate limits of the subscribing key are its own.
   */
  async function deliveredToAll(
    tenant: { projectId: string; user: { accessToken: string } },
    subscriptions: { delivered: () => boolean }[],
  ) {
    const created = await gql<{ createApiKey: { key: string } }>(
      'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
      { input: { projectId: tenant.projectId, name: 'recorder', scopes: ['usage:write'] } },
      { token: tenant.user.accessToken },
    );
    for (let i = 0; i < 40 && !subscriptions.every((s) => s.delivered()); i++) {
      await gql(
        'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
        { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } },
        { token: created.data!.createApiKey.key },
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    return subscriptions.every((s) => s.delivered());
  }

  it('refuses, as over HTTP, too many aliases, too high a cost, and fields the caller may not see', async () => {
    const tenant = await createTenant(['usage:read']);
    const asUser = connect(`Bearer ${tenant.user.accessToken}`);
    expect(await subscribe(asUser, '{ a: id b: id c: id d: id }', tenant.organizationId).refused).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) }),
    ]);
    // usageUpdated 1 + organization 1 + 20 projects x (1 + 10 apiKeys) = 222 > 200
    expect(await subscribe(asUser, '{ id organization { projects { apiKeys { id } } } }', tenant.organizationId).refused).toEqual([
      expect.objectContaining({ extensions: { code: 'COST_LIMIT_EXCEEDED', cost: 222, maxCost: 200 } }),
    ]);
    // Over HTTP the field would be removed and answered null; a subscription is refused whole.
    expect(
      await subscribe(connect(tenant.apiKey), '{ id organization { name projects { id name } } }', tenant.organizationId).refused,
    ).toEqual([
      expect.objectContaining({ message: 'Not allowed to see usageUpdated.organization.projects', extensions: { code: 'FORBIDDEN' } }),
    ]);
    expect(await deliveredToAll(tenant, [subscribe(connect(tenant.apiKey), '{ id organization { name } }', tenant.organizationId)])).toBe(
      true,
    );
  });

  it('holds at most MAX_SUBSCRIPTIONS_PER_CONNECTION on a connection, and counts each subscribe against the rate limits', async () => {
    const tenant = await createTenant(['usage:read']);
    const first = connect(tenant.apiKey);
    const taken = [0, 1, 2].map(() => subscribe(first, '{ id }', tenant.organizationId));
    expect(await deliveredToAll(tenant, taken)).toBe(true);
    expect(await subscribe(first, '{ id }', tenant.organizationId).refused).toEqual([
      expect.objectContaining({ extensions: { code: 'RATE_LIMITED' } }),
    ]);
    // API_KEY_RATE_LIMIT_PER_MINUTE is 5: subscribing on new connections soon runs into it.
    let refusal: Refusal | undefined;
    for (let i = 0; i < 6 && !refusal; i++) {
      const next = subscribe(connect(tenant.apiKey), '{ id }', tenant.organizationId);
      refusal = await Promise.race([next.refused, new Promise<undefined>((r) => setTimeout(r, 2_000))]);
    }
    expect(refusal).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) }) }),
    ]);
  });

  it('closes a connection that sends a message over MAX_REQUEST_BYTES with 1009', async () => {
    const closed = await new Promise<number>((resolve) => {
      const socket = new WebSocket(wsEdge.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(1_048_577) } })));
      socket.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(1009);
  });
});
