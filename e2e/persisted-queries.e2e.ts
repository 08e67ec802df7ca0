import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTenant, stack, unique } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { data?: any; errors?: { extensions: { code: string } }[] },
  };
}
async function get(url: string, params: Record<string, unknown>, token?: string) {
  const search = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const response = await fetch(`${url}?${search}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { data?: any; errors?: { extensions: { code: string } }[] },
  };
}
const apq = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

describe('automatic persisted queries', () => {
  let second: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    second = await startExtraRouter('router-apq', {});
  });
  afterAll(() => second.stop());

  it('misses, registers, then hits over POST and GET, on every router instance', async () => {
    const tenant = await createTenant();
    // A document no other test sends, so its hash is unknown.
    const query = `query Apq${unique('q').replace(/-/g, '')} { me { id } }`;
    const hash = sha256(query);

    const miss = await post(stack.routerUrl, { extensions: apq(hash) }, tenant.user.accessToken);
    expect(miss.status).toBe(200);
    expect(miss.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    const register = await post(stack.routerUrl, { query, extensions: apq(hash) }, tenant.user.accessToken);
    expect(register.body.data).toEqual({ me: { id: tenant.user.userId } });

    expect((await post(stack.routerUrl, { extensions: apq(hash) }, tenant.user.accessToken)).body.data).toEqual({
      me: { id: tenant.user.userId },
    });
    const viaGet = await get(stack.routerUrl, { extensions: apq(hash) }, tenant.user.accessToken);
    expect(viaGet.body.data).toEqual({ me: { id: tenant.user.userId } });
    expect(viaGet.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
    // Registered through one instance, known to the other.
    expect((await post(second.url, { extensions: apq(hash) }, tenant.user.accessToken)).body.data).toEqual({
      me: { id: tenant.user.userId },
    });
  });

  it('refuses a hash that does not match its document', async () => {
    const result = await post(stack.routerUrl, { query: '{ me { id } }', extensions: apq(sha256('{ me { name } }')) });
    expect(result.status).toBe(400);
    expect(result.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('lets anonymous GETs of public fields be cached publicly, and nothing else', async () => {
    const query = '{ mcpServers(first: 1) { totalCount } }';
    const hash = sha256(query);
    await post(stack.routerUrl, { query, extensions: apq(hash) });
    const anonymous = await get(stack.routerUrl, { extensions: apq(hash) });
    expect(anonymous.body.data?.mcpServers.totalCount).toEqual(expect.any(Number));
    expect(anonymous.headers.get('cache-control')).toBe('public, max-age=60');
    // A signed-in caller may see private servers: its answer is its own.
    const tenant = await createTenant();
    expect((await get(stack.routerUrl, { extensions: apq(hash) }, tenant.user.accessToken)).headers.get('cache-control')).toBe(
      'private, max-age=0, must-revalidate',
    );
    // A POST, or a GET with the query text instead of a hash, is not cached.
    expect((await get(stack.routerUrl, { query })).headers.get('cache-control')).not.toMatch(/public/);
  });
});

describe('trusted documents in safelist mode', () => {
  const trusted = 'query TrustedMe { me { id email } }';
  let safelist: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    const manifest = join(stack.logDir, 'persisted-documents.json');
    await writeFile(manifest, JSON.stringify({ [sha256(trusted)]: trusted }));
    safelist = await startExtraRouter('router-safelist', { PERSISTED_QUERIES: 'safelist', PERSISTED_QUERIES_MANIFEST: manifest });
  });
  afterAll(() => safelist.stop());

  it('serves a manifest operation by hash with no registration', async () => {
    const tenant = await createTenant();
    const result = await post(safelist.url, { extensions: apq(sha256(trusted)) }, tenant.user.accessToken);
    expect(result.body.data).toEqual({ me: { id: tenant.user.userId, email: tenant.user.email } });
    expect((await post(safelist.url, { query: trusted }, tenant.user.accessToken)).body.data).toEqual({
      me: { id: tenant.user.userId, email: tenant.user.email },
    });
  });

  it('holds subscriptions over WebSocket to the manifest too', async () => {
    const tenant = await createTenant();
    const client = createClient({
      url: safelist.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: tenant.apiKey },
      retryAttempts: 0,
    });
    const error = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription ($o: ID!) { usageUpdated(organizationId: $o) { id } }', variables: { o: tenant.organizationId } },
        { next: () => undefined, error: resolve, complete: () => resolve(null) },
      );
    });
    await client.dispose();
    expect(JSON.stringify(error)).toContain('PERSISTED_QUERY_NOT_ALLOWED');
  });

  it('refuses every other operation with PERSISTED_QUERY_NOT_ALLOWED', async () => {
    const other = '{ me { id } }';
    for (const body of [{ query: other }, { query: other, extensions: apq(sha256(other)) }, { extensions: apq(sha256(other)) }]) {
      const result = await post(safelist.url, body);
      expect(result.body.errors?.[0]?.extensions.code, JSON.stringify(body)).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    }
  });
});
