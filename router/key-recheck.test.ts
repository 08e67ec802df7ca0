import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '@mindweave/service-kit';
import { recheckKeys } from './key-recheck.ts';
import { createConnections } from './subscription-connections.ts';
import { fakeSocket } from './fixtures/subscription-fakes.ts';

afterEach(() => void vi.useRealTimers());

const keyIdentity = (apiKeyId: string): Identity => ({ kind: 'apiKey', apiKeyId, projectId: 'p', organizationId: 'o', scopes: [] });

function keyedConnections(keys: string[]) {
  const connections = createConnections();
  const opened = keys.map((key) => {
    const { socket, closes } = fakeSocket();
    return { connection: connections.open(socket, { identity: keyIdentity(`id-${key}`) }, key), closes };
  });
  return opened;
}

describe('recheckKeys', () => {
  it('asks once per key, and closes the connections of a revoked key only', async () => {
    const [a1, a2, b] = keyedConnections(['a', 'a', 'b']);
    const asked: string[] = [];
    const authenticator = {
      recheckApiKey: (key: string) => {
        asked.push(key);
        return Promise.resolve(key === 'a' ? ('revoked' as const) : { expiresAtMs: null });
      },
    };
    await recheckKeys(authenticator, [a1!.connection, a2!.connection, b!.connection]);
    expect(asked).toEqual(['a', 'b']);
    expect(a1!.closes).toEqual([{ code: 4403, reason: 'Forbidden: the API key was revoked, expired or deleted' }]);
    expect(a2!.closes.length).toBe(1);
    expect(b!.closes).toEqual([]);
  });

  it("follows a key's new expiry (a rotation's grace period)", async () => {
    vi.useFakeTimers();
    const [rotated] = keyedConnections(['r']);
    const expiresAtMs = Date.now() + 1_000;
    await recheckKeys({ recheckApiKey: () => Promise.resolve({ expiresAtMs }) }, [rotated!.connection]);
    expect(rotated!.closes).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(rotated!.closes).toEqual([{ code: 4403, reason: 'Forbidden: the credential expired' }]);
  });

  it('leaves a connection, and the expiry it had, as they were while accounts cannot tell', async () => {
    vi.useFakeTimers();
    const connections = createConnections();
    const { socket, closes } = fakeSocket();
    const expiring = connections.open(socket, { identity: keyIdentity('k'), expiresAtMs: Date.now() + 1_000 }, 'mw_sk_k');
    await recheckKeys({ recheckApiKey: () => Promise.resolve('unknown' as const) }, [expiring]);
    expect(closes).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(closes).toEqual([{ code: 4403, reason: 'Forbidden: the credential expired' }]);
  });

  it('skips connections opened without a key', async () => {
    const { socket } = fakeSocket();
    const user = createConnections().open(socket, { identity: { kind: 'user', userId: 'u' } }, undefined);
    const authenticator = { recheckApiKey: () => Promise.reject(new Error('not asked')) };
    await recheckKeys(authenticator, [user]);
  });
});
