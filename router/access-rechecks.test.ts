import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '@mindweave/service-kit';
import { startAccessRechecks } from './access-rechecks.ts';
import type { MembershipList } from './memberships.ts';
import { createConnections } from './subscription-connections.ts';
import { fakeSocket, fakeSubscriber } from './fixtures/subscription-fakes.ts';

afterEach(() => void vi.useRealTimers());

const keyIdentity = (apiKeyId: string): Identity => ({ kind: 'apiKey', apiKeyId, projectId: 'p', organizationId: 'o1', scopes: [] });

function setup() {
  const connections = createConnections();
  const keyChecks: string[] = [];
  const membershipAsks: string[][] = [];
  const forgotten: string[] = [];
  const warnings: unknown[] = [];
  let memberships: Map<string, MembershipList> = new Map();
  let failing = false;
  const open = (identity: Identity, extra: { sessionId?: string; apiKey?: string } = {}) => {
    const { socket, closes } = fakeSocket();
    const connection = connections.open(socket, { identity, ...(extra.sessionId ? { sessionId: extra.sessionId } : {}) }, extra.apiKey);
    return { connection, closes };
  };
  const rechecks = startAccessRechecks({
    connections,
    authenticator: {
      recheckApiKey: (key) => {
        keyChecks.push(key);
        return Promise.resolve('revoked' as const);
      },
    },
    membershipLookup: {
      ofMany: (userIds) => {
        membershipAsks.push(userIds);
        return failing ? Promise.reject(new Error('down')) : Promise.resolve(memberships);
      },
      forget: (userId) => void forgotten.push(userId),
    },
    delivery: { join: () => undefined },
    intervalMs: 1_000,
    log: { warn: (details: unknown) => void warnings.push(details) },
  });
  return {
    rechecks,
    open,
    keyChecks,
    membershipAsks,
    forgotten,
    warnings,
    setMemberships: (value: Map<string, MembershipList>) => (memberships = value),
    fail: (value: boolean) => (failing = value),
  };
}

describe('the access re-checks', () => {
  it('closes the connections of the sessions that ended, not the others', () => {
    const { rechecks, open } = setup();
    const ended = open({ kind: 'user', userId: 'u' }, { sessionId: 's1' });
    const other = open({ kind: 'user', userId: 'u' }, { sessionId: 's2' });
    const key = open(keyIdentity('k'), { apiKey: 'mw_sk_k' });
    rechecks.onAccessChange.sessionsEnded(['s1', 's3']);
    expect(ended.closes).toEqual([{ code: 4403, reason: 'Forbidden: the session was ended' }]);
    expect([other.closes, key.closes]).toEqual([[], []]);
    rechecks.stop();
  });

  it('looks up again only the keys that changed', async () => {
    const { rechecks, open, keyChecks } = setup();
    const changed = open(keyIdentity('k1'), { apiKey: 'mw_sk_1' });
    open(keyIdentity('k2'), { apiKey: 'mw_sk_2' });
    rechecks.onAccessChange.apiKeysChanged(['k1']);
    rechecks.onAccessChange.apiKeysChanged(['unknown']);
    await vi.waitFor(() => expect(changed.closes.length).toBe(1));
    expect(keyChecks).toEqual(['mw_sk_1']);
    rechecks.stop();
  });

  it('forgets the cached memberships of users whose memberships changed, then checks theirs', async () => {
    const { rechecks, open, membershipAsks, forgotten, setMemberships } = setup();
    const u = open({ kind: 'user', userId: 'u' });
    fakeSubscriber(u.connection, 'o1');
    setMemberships(new Map([['u', []]]));
    rechecks.onAccessChange.membershipsChanged(['u', 'v']);
    expect(forgotten).toEqual(['u', 'v']);
    await vi.waitFor(() => expect(u.closes.length).toBe(1));
    expect(membershipAsks).toEqual([['u']]);
    rechecks.stop();
  });

  it('re-checks every key and every subscribed user periodically, until stopped', async () => {
    vi.useFakeTimers();
    const { rechecks, open, keyChecks, membershipAsks } = setup();
    open(keyIdentity('k1'), { apiKey: 'mw_sk_1' });
    fakeSubscriber(open({ kind: 'user', userId: 'u' }).connection, 'o1');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(keyChecks).toEqual(['mw_sk_1']);
    expect(membershipAsks).toEqual([['u']]);
    rechecks.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(membershipAsks.length).toBe(1);
  });

  it('logs a failed periodic re-check and tries again at the next', async () => {
    vi.useFakeTimers();
    const { rechecks, open, warnings, membershipAsks, fail } = setup();
    fakeSubscriber(open({ kind: 'user', userId: 'u' }).connection, 'o1');
    fail(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(warnings.length).toBe(1);
    fail(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(membershipAsks.length).toBe(2);
    expect(warnings.length).toBe(1);
    rechecks.stop();
  });
});
