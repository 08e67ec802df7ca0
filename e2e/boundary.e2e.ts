import { describe, expect, it } from 'vitest';
import { signIdentity } from '@mindweave/service-kit';
import { createTenant, stack } from './client.ts';

const identityUrl = `http://127.0.0.1:${stack.basePort + 1}/graphql`;
const accountsUrl = `http://127.0.0.1:${stack.basePort + 2}`;
const secret = stack.env['INTERNAL_SIGNING_SECRET'] ?? 'development-only-internal-signing-secret';

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] } };
}

describe('subgraphs answer only the router', () => {
  it('refuses a request sent straight to a subgraph, touching no data', async () => {
    const email = `direct-${Date.now()}@example.com`;
    const direct = await post(identityUrl, { query: 'mutation ($e: String!) { register(input: { email: $e, password: "long enough pw", name: "x" }) { accessToken } }', variables: { e: email } });
    expect(direct.status).toBe(401);
    expect(direct.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(direct.body.data).toBeUndefined();
    // The registration did not happen: the same email still registers through the router.
    const viaRouter = await post(stack.routerUrl, { query: 'mutation ($e: String!) { register(input: { email: $e, password: "long enough pw", name: "x" }) { user { email } } }', variables: { e: email } });
    expect(viaRouter.body.data).toEqual({ register: { user: { email } } });
  });

  it('refuses forged identity headers: wrong key, altered identity, stale signature', async () => {
    const tenant = await createTenant();
    const asUser = { kind: 'user' as const, userId: tenant.user.userId };
    const query = { query: '{ me { id email } }' };

    const wrongKey = await post(identityUrl, query, signIdentity('x'.repeat(40), asUser, 'r1'));
    expect(wrongKey.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    const genuine = signIdentity(secret, { kind: 'anonymous' }, 'r2');
    const altered = { ...genuine, 'x-mw-identity': Buffer.from(JSON.stringify(asUser)).toString('base64url') };
    const alteredResult = await post(identityUrl, query, altered);
    expect(alteredResult.status).toBe(401);
    expect(alteredResult.body.data).toBeUndefined();

    const stale = await post(identityUrl, query, signIdentity(secret, asUser, 'r3', Date.now() - 10 * 60_000));
    expect(stale.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    // The correctly signed request works, so the refusals above were about the signature.
    const signed = await post(identityUrl, query, signIdentity(secret, asUser, 'r4'));
    expect(signed.body).toEqual({ data: { me: { id: tenant.user.userId, email: tenant.user.email } } });
  });

  it("refuses unsigned calls to accounts' API-key resolution", async () => {
    const tenant = await createTenant();
    const unsigned = await post(`${accountsUrl}/internal/api-keys/verify`, { key: tenant.apiKey });
    expect(unsigned.status).toBe(401);
    const asUser = await post(`${accountsUrl}/internal/api-keys/verify`, { key: tenant.apiKey }, signIdentity(secret, { kind: 'user', userId: tenant.user.userId }, 'r5'));
    expect(asUser.status).toBe(401);
  });
});
