import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConnections, forbid, scheduleExpiry } from './subscription-connections.ts';
import { fakeSocket, fakeSubscriber } from './fixtures/subscription-fakes.ts';

afterEach(() => void vi.useRealTimers());

describe('the connections of an instance', () => {
  it('keeps the session, and the key a key identity presented, and finds connections by socket and user', () => {
    const connections = createConnections();
    const { socket } = fakeSocket();
    const user = connections.open(socket, { identity: { kind: 'user', userId: 'u1' }, sessionId: 's1' }, undefined);
    expect(user).toMatchObject({ sessionId: 's1' });
    expect(user.apiKey).toBeUndefined();
    const key = connections.open(
      fakeSocket().socket,
      { identity: { kind: 'apiKey', apiKeyId: 'k1', projectId: 'p', organizationId: 'o', scopes: [] } },
      'mw_sk_x',
    );
    expect(key.apiKey).toEqual({ key: 'mw_sk_x', apiKeyId: 'k1' });
    expect(connections.get(socket)).toBe(user);
    expect([...connections.ofUser('u1')]).toEqual([user]);
    expect(connections.all()).toEqual([user, key]);
    expect(connections.users()).toEqual(['u1']);
  });

  it('tells which users hold a subscription', () => {
    const connections = createConnections();
    const a = connections.open(fakeSocket().socket, { identity: { kind: 'user', userId: 'a' } }, undefined);
    connections.open(fakeSocket().socket, { identity: { kind: 'user', userId: 'b' } }, undefined);
    fakeSubscriber(a, 'o1');
    expect([connections.isSubscribed('a'), connections.isSubscribed('b'), connections.isSubscribed('c')]).toEqual([true, false, false]);
  });

  it('forgets a closed connection, its user once their last one closes, and its expiry', () => {
    vi.useFakeTimers();
    const connections = createConnections();
    const first = fakeSocket();
    const second = fakeSocket();
    const expiresAtMs = Date.now() + 1_000;
    connections.open(first.socket, { identity: { kind: 'user', userId: 'u1' }, expiresAtMs }, undefined);
    connections.open(second.socket, { identity: { kind: 'user', userId: 'u1' } }, undefined);
    connections.close(first.socket);
    expect(connections.users()).toEqual(['u1']);
    connections.close(second.socket);
    connections.close(second.socket);
    expect(connections.users()).toEqual([]);
    expect(connections.all()).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(first.closes).toEqual([]);
  });
});

describe('expiry', () => {
  it('closes a connection with 4403 when the credential it was opened with expires', () => {
    vi.useFakeTimers();
    const { socket, closes } = fakeSocket();
    createConnections().open(socket, { identity: { kind: 'user', userId: 'u' }, expiresAtMs: Date.now() + 1_000 }, undefined);
    vi.advanceTimersByTime(999);
    expect(closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closes).toEqual([{ code: 4403, reason: 'Forbidden: the credential expired' }]);
  });

  it('closes the connection with 4403 when its credential expires, and follows a new expiry', () => {
    vi.useFakeTimers();
    const connections = createConnections();
    const { socket, closes } = fakeSocket();
    const connection = connections.open(socket, { identity: { kind: 'user', userId: 'u' }, expiresAtMs: Date.now() + 1_000 }, undefined);
    scheduleExpiry(connection, Date.now() + 5_000);
    vi.advanceTimersByTime(4_000);
    expect(closes).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(closes).toEqual([{ code: 4403, reason: 'Forbidden: the credential expired' }]);
  });

  it('sets no timer for no expiry or one too far ahead for setTimeout', () => {
    vi.useFakeTimers();
    const { socket, closes } = fakeSocket();
    const connection = createConnections().open(socket, { identity: { kind: 'anonymous' } }, undefined);
    scheduleExpiry(connection, Date.now() + 2 ** 31 + 10);
    scheduleExpiry(connection, null);
    expect(connection.expiry).toBeUndefined();
    scheduleExpiry(connection, Date.now() - 1);
    vi.advanceTimersByTime(0);
    expect(closes.length).toBe(1);
  });

  it('forbid closes with 4403 and the reason', () => {
    const { socket, closes } = fakeSocket();
    forbid(createConnections().open(socket, { identity: { kind: 'anonymous' } }, undefined), 'why');
    expect(closes).toEqual([{ code: 4403, reason: 'Forbidden: why' }]);
  });
});
