import { connect, createServer, type Socket } from 'node:net';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTenant, gql, stack } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

// A router whose Redis is unreachable and whose accounts subgraph accepts connections and never answers.
const sockets = new Set<Socket>();
const hangingSubgraph = createServer((socket) => void sockets.add(socket));
let router: Awaited<ReturnType<typeof startExtraRouter>>;

beforeAll(async () => {
  await new Promise<void>((resolve) => hangingSubgraph.listen(0, '127.0.0.1', resolve));
  const port = (hangingSubgraph.address() as { port: number }).port;
  const subgraphUrls = stack.env['SUBGRAPH_URLS']!.replace(/accounts=[^,]+/, `accounts=http://127.0.0.1:${port}/graphql`);
  // Its internal routes too: the router asks them for memberships.
  router = await startExtraRouter(
    'router-degraded',
    {
      REDIS_URL: 'redis://127.0.0.1:1',
      SUBGRAPH_URLS: subgraphUrls,
      ACCOUNTS_INTERNAL_URL: `http://127.0.0.1:${port}`,
      SUBGRAPH_TIMEOUT_MS: '500',
      RATE_LIMIT_PER_MINUTE: '10',
    },
    '/health/live',
  );
});
afterAll(async () => {
  await router.stop();
  for (const socket of sockets) socket.destroy();
  hangingSubgraph.close();
});

describe('a failing dependency degrades one feature, not the router', () => {
  it('answers with partial data and an error when a subgraph hangs', async () => {
    const tenant = await createTenant();
    const started = Date.now();
    const result = await gql(
      'query ($id: ID!) { me { id } organization(id: $id) { id } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken, url: router.url },
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.data).toEqual({ me: { id: tenant.user.userId }, organization: null });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfter: 5 });
    // Partial data stays 200; the client learns when to ask again for the rest.
    expect(result.status).toBe(200);
    expect(result.headers.get('retry-after')).toBe('5');
  });

  it('answers 503 UNAVAILABLE with Retry-After when nothing could be answered', async () => {
    const tenant = await createTenant();
    const result = await gql(
      'query ($id: ID!) { organization(id: $id) { id } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken, url: router.url },
    );
    expect(result.status).toBe(503);
    expect(result.headers.get('retry-after')).toBe('5');
    expect(result.data).toEqual({ organization: null });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfter: 5 });
  });

  it('refuses a subscription it cannot check with UNAVAILABLE, not FORBIDDEN, and keeps the connection', async () => {
    const tenant = await createTenant();
    const client = createClient({
      url: router.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tenant.user.accessToken}` },
      retryAttempts: 0,
    });
    let closed = false;
    client.on('closed', () => (closed = true));
    const refused = () =>
      new Promise<{ message: string; extensions: { code: string } }[]>((resolve) =>
        client.subscribe(
          { query: 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id } }', variables: { org: tenant.organizationId } },
          { next: () => undefined, error: (e) => resolve(e as never), complete: () => resolve([]) },
        ),
      );
    for (let i = 0; i < 2; i++) {
      expect(await refused()).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/Could not check access/),
          extensions: { code: 'UNAVAILABLE', retryAfter: 5 },
        }),
      ]);
    }
    expect(closed).toBe(false);
    await client.dispose();
  });

  it('keeps rate limiting in memory while Redis is down', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const result = await gql('{ me { id } }', {}, { url: router.url });
      statuses.push(result.status);
      expect(result.headers.get('x-ratelimit-limit')).toBe('10');
    }
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeLessThanOrEqual(10);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('while accounts cannot answer', () => {
  // The router asks accounts about API keys through this proxy, which the test can cut: then it
  // accepts connections and never answers.
  let cut = false;
  const proxied = new Set<Socket>();
  const accounts = new URL(stack.env['ACCOUNTS_INTERNAL_URL']!);
  const proxy = createServer((client) => {
    proxied.add(client);
    client.on('close', () => proxied.delete(client));
    if (cut) return;
    const upstream = connect(Number(accounts.port), accounts.hostname);
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  let cutOff: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as { port: number }).port;
    cutOff = await startExtraRouter('router-accounts-cut', {
      ACCOUNTS_INTERNAL_URL: `http://127.0.0.1:${port}`,
      API_KEY_CACHE_TTL_SECONDS: '1',
      REDIS_KEY_PREFIX: `${stack.env['REDIS_KEY_PREFIX']}accounts-cut:`,
    });
  });
  afterAll(async () => {
    await cutOff.stop();
    for (const socket of proxied) socket.destroy();
    proxy.close();
  });

  it('keeps the API keys it has seen working, and answers 503 with Retry-After for the others', async () => {
    const [seen, unseen] = await Promise.all([createTenant(), createTenant()]);
    const query = 'query ($id: ID!) { organization(id: $id) { id } }';
    expect((await gql(query, { id: seen.organizationId }, { token: seen.apiKey, url: cutOff.url })).data).toEqual({
      organization: { id: seen.organizationId },
    });
    cut = true;
    for (const socket of proxied) socket.destroy();
    // The shared copy in Redis lapses after a second; then only the router's memory knows the key.
    await new Promise((r) => setTimeout(r, 1_500));
    const again = await gql(query, { id: seen.organizationId }, { token: seen.apiKey, url: cutOff.url });
    expect(again.data).toEqual({ organization: { id: seen.organizationId } });
    const refused = await gql(query, { id: unseen.organizationId }, { token: unseen.apiKey, url: cutOff.url });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.errors?.[0]?.extensions.code).toBe('UNAVAILABLE');
  });
});
