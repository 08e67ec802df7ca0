import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createMindWeaveClient, RecordUsageDocument, UsageUpdatedDocument } from '../packages/sdk/src/index.ts';
import { createSession, type KeyValueStore } from '../apps/dashboard/src/session.ts';
import { createTenant, stack } from './client.ts';
import { shortLivedAccessToken } from './db.ts';

// The dashboard's session (apps/dashboard/src/session.ts) against the real identity service, in
// Node: what the browser tests cannot wait for (a token expiring under a live connection).

const memoryStore = (): KeyValueStore & { values: Map<string, string> } => {
  const values = new Map<string, string>();
  return {
    values,
    getItem: (k) => values.get(k) ?? null,
    setItem: (k, v) => void values.set(k, v),
    removeItem: (k) => void values.delete(k),
  };
};
const anonymous = () => createMindWeaveClient({ url: stack.routerUrl, retry: { attempts: 1 } });

async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}

describe("the dashboard's session", () => {
  it('refreshes once for concurrent callers: identity treats a reused refresh token as stolen', async () => {
    const tenant = await createTenant();
    const store = memoryStore();
    // A margin longer than the tokens live: every call wants a refresh.
    const session = createSession({ client: anonymous(), store, refreshMarginMs: 3_600_000 });
    expect(await session.signIn(tenant.user.email, tenant.user.password)).toMatchObject({
      kind: 'signedIn',
      user: { id: tenant.user.userId },
    });
    const first = store.values.get('mindweave.refreshToken');

    const tokens = await Promise.all(Array.from({ length: 5 }, () => session.accessToken()));
    expect(new Set(tokens).size).toBe(1);
    const rotated = store.values.get('mindweave.refreshToken');
    expect(rotated).not.toBe(first);
    // Had two refreshes raced with the same token, the whole sign-in would now be revoked.
    expect(await session.accessToken()).toEqual(expect.any(String));
    expect(await session.resume()).toMatchObject({ id: tenant.user.userId });
  });

  it('signs out when the refresh token is refused, and says so', async () => {
    const tenant = await createTenant();
    const store = memoryStore();
    let signedOut = 0;
    const session = createSession({ client: anonymous(), store, refreshMarginMs: 3_600_000, onSignedOut: () => signedOut++ });
    await session.signIn(tenant.user.email, tenant.user.password);
    store.setItem('mindweave.refreshToken', 'not-a-refresh-token');
    await expect(session.accessToken()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(signedOut).toBe(1);
    expect(session.resumable).toBe(false);
    expect(session.user).toBeUndefined();
  });

  it('keeps the live feed through an access token expiring: the router closes with 4403, the SDK reconnects with a fresh one', async () => {
    const tenant = await createTenant();
    const store = memoryStore();
    const session = createSession({ client: anonymous(), store, refreshMarginMs: 1_000 });
    // The session starts with a token that expires in 3 s, and a real refresh token.
    session.adopt({
      accessToken: await shortLivedAccessToken(tenant.user.userId, 3),
      refreshToken: (await loginRefreshToken(tenant.user.email, tenant.user.password))!,
      user: { id: tenant.user.userId, email: tenant.user.email, name: 'Test User' },
      requiresMfa: false,
      mfaToken: null,
    });

    const connections: boolean[] = [];
    const live = createMindWeaveClient({
      url: stack.routerUrl,
      auth: () => session.accessToken(),
      webSocketImpl: WebSocket,
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 },
      on: { connected: (_s, _p, wasRetry) => connections.push(wasRetry) },
    });
    const service = createMindWeaveClient({ url: stack.routerUrl, auth: { apiKey: tenant.apiKey } });
    const models: string[] = [];
    const errors: Error[] = [];
    const unsubscribe = live.subscribe(
      UsageUpdatedDocument,
      { organizationId: tenant.organizationId },
      (data) => models.push(data.usageUpdated.model),
      (error) => errors.push(error),
    );
    const seen = async (model: string) => {
      for (let i = 0; i < 20 && !models.includes(model); i++) {
        await service.request(RecordUsageDocument, { input: { model, inputTokens: 1, outputTokens: 1, latencyMs: 1 } });
        await waitFor(() => models.includes(model), 500);
      }
      return models.includes(model);
    };
    try {
      expect(await seen('before-expiry')).toBe(true);
      // The token expires; the router closes the connection; graphql-ws asks for connectionParams again.
      expect(await waitFor(() => connections.length >= 2, 15_000)).toBe(true);
      expect(connections).toEqual([false, true]);
      expect(await seen('after-expiry')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      unsubscribe();
      await live.close();
    }
  }, 40_000);
});

async function loginRefreshToken(email: string, password: string) {
  const store = memoryStore();
  await createSession({ client: anonymous(), store }).signIn(email, password);
  return store.getItem('mindweave.refreshToken');
}
