import { describe, expect, it } from 'vitest';
import { signIdentity, verifyIdentity, type Identity } from './identity.ts';

const secret = 'a'.repeat(40);
const headersOf = (record: Record<string, string>) => ({ get: (name: string) => record[name] ?? null });
const user: Identity = { kind: 'user', userId: 'u1' };
const body = '{"query":"{ me { id } }"}';

describe('signed identity headers', () => {
  it('round-trips the identity and request id', () => {
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'req-1', body)), body)).toEqual({
      identity: user,
      requestId: 'req-1',
    });
    // The same bytes as a Buffer, as a server reads them.
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'req-1', body)), Buffer.from(body))).toEqual({
      identity: user,
      requestId: 'req-1',
    });
  });

  it('refuses a wrong secret, an altered identity or request id, and a stale or future signature', () => {
    const signed = signIdentity(secret, user, 'req-1', body);
    expect(verifyIdentity('b'.repeat(40), headersOf(signed), body)).toBeNull();
    const admin = Buffer.from(JSON.stringify({ kind: 'user', userId: 'admin' })).toString('base64url');
    expect(verifyIdentity(secret, headersOf({ ...signed, 'x-mw-identity': admin }), body)).toBeNull();
    expect(verifyIdentity(secret, headersOf({ ...signed, 'x-request-id': 'other' }), body)).toBeNull();
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'r', body, Date.now() - 6 * 60_000)), body)).toBeNull();
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'r', body, Date.now() + 6 * 60_000)), body)).toBeNull();
    expect(verifyIdentity(secret, headersOf({}), body)).toBeNull();
  });

  it('binds the body: the same headers with another operation, or a byte changed, are refused', () => {
    const signed = signIdentity(secret, user, 'req-1', body);
    expect(verifyIdentity(secret, headersOf(signed), '{"query":"mutation { deleteOrganization(id: \\"x\\") }"}')).toBeNull();
    expect(verifyIdentity(secret, headersOf(signed), body.replace('me', 'mE'))).toBeNull();
    expect(verifyIdentity(secret, headersOf(signed), `${body} `)).toBeNull();
    expect(verifyIdentity(secret, headersOf(signed), '')).toBeNull();
    // An empty body (a GET) signs and verifies like any other.
    expect(verifyIdentity(secret, headersOf(signIdentity(secret, user, 'r', '')), new Uint8Array())).toEqual({
      identity: user,
      requestId: 'r',
    });
  });
});
