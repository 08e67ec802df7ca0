import { describe, expect, it } from 'vitest';
import { signIdentity, verifyIdentity, type Identity } from './identity.ts';

const secret = 'a'.repeat(40);
const headersOf = (record: Record<string, string>) => ({ get: (name: string) => record[name] ?? null });
const user: Identity = { kind: 'user', userId: 'u1' };

describe('signed identity headers', () => {
  it('round-trips the identity and request id', () => {
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'req-1')))).toEqual({ identity: user, requestId: 'req-1' });
  });

  it('refuses a wrong secret, an altered identity or request id, and a stale or future signature', () => {
    const signed = signIdentity(secret, user, 'req-1');
    expect(verifyIdentity('b'.repeat(40), headersOf(signed))).toBeNull();
    const admin = Buffer.from(JSON.stringify({ kind: 'user', userId: 'admin' })).toString('base64url');
    expect(verifyIdentity(secret, headersOf({ ...signed, 'x-mw-identity': admin }))).toBeNull();
    expect(verifyIdentity(secret, headersOf({ ...signed, 'x-request-id': 'other' }))).toBeNull();
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'r', Date.now() - 6 * 60_000)))).toBeNull();
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'r', Date.now() + 6 * 60_000)))).toBeNull();
    expect(verifyIdentity(secret, headersOf({}))).toBeNull();
  });
});
