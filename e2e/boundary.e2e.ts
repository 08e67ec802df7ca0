import { describe, expect, it } from 'vitest';
import { signIdentity, type Identity } from '@mindweave/service-kit';
import { createTenant, stack } from './client.ts';

const identityUrl = `http://127.0.0.1:${stack.basePort + 1}/graphql`;
const accountsUrl = `http://127.0.0.1:${stack.basePort + 2}`;
const accountsGraphql = `${accountsUrl}/graphql`;
const secret = stack.env['INTERNAL_SIGNING_SECRET'] ?? 'development-only-internal-signing-secret';

/** A POST; `sign` gets the exact body, as a signer over it would. */
async function post(url: string, payload: unknown, sign?: (body: string) => Record<string, string>) {
  const body = JSON.stringify(payload);
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...sign?.(body) }, body });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] } };
}
const signedAs = (key: string, identity: Identity, requestId: string, at?: number) => (body: string) =>
  signIdentity(key, identity, requestId, body, at);

describe('subgraphs answer only the router', () => {
  it('refuses a request sent straight to a subgraph, touching no data', async () => {
    const email = `direct-${Date.now()}@example.com`;
    const direct = await post(identityUrl, {
      query: 'mutation ($e: String!) { register(input: { email: $e, password: "long enough pw", name: "x" }) { accessToken } }',
      variables: { e: email },
    });
    expect(direct.status).toBe(401);
    expect(direct.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(direct.body.data).toBeUndefined();
    // The registration did not happen: the same email still registers through the router.
    const viaRouter = await post(stack.routerUrl, {
      query: 'mutation ($e: String!) { register(input: { email: $e, password: "long enough pw", name: "x" }) { user { email } } }',
      variables: { e: email },
    });
    expect(viaRouter.body.data).toEqual({ register: { user: { email } } });
  });

  it('refuses forged identity headers: wrong key, altered identity, stale signature', async () => {
    const tenant = await createTenant();
    const asUser = { kind: 'user' as const, userId: tenant.user.userId };
    const query = { query: '{ me { id email } }' };

    const wrongKey = await post(identityUrl, query, signedAs('x'.repeat(40), asUser, 'r1'));
    expect(wrongKey.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    const altered = await post(identityUrl, query, (body) => ({
      ...signIdentity(secret, { kind: 'anonymous' }, 'r2', body),
      'x-mw-identity': Buffer.from(JSON.stringify(asUser)).toString('base64url'),
    }));
    expect(altered.status).toBe(401);
    expect(altered.body.data).toBeUndefined();

    const stale = await post(identityUrl, query, signedAs(secret, asUser, 'r3', Date.now() - 10 * 60_000));
    expect(stale.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    // The correctly signed request works, so the refusals above were about the signature.
    const signed = await post(identityUrl, query, signedAs(secret, asUser, 'r4'));
    expect(signed.body).toEqual({ data: { me: { id: tenant.user.userId, email: tenant.user.email } } });
  });

  it('refuses captured identity headers replayed with another operation: the signature covers the body', async () => {
    const tenant = await createTenant();
    // What a router sends for a harmless read, as someone on the network path would capture it.
    const read = { query: 'query ($id: ID!) { organization(id: $id) { name } }', variables: { id: tenant.organizationId } };
    const captured = signIdentity(secret, { kind: 'user', userId: tenant.user.userId }, 'captured', JSON.stringify(read));
    expect((await post(accountsGraphql, read, () => captured)).body).toEqual({ data: { organization: { name: 'Tenant' } } });
    // The same headers, well within their five minutes, on a destructive operation, and on the read with other variables.
    const destroy = { query: 'mutation ($id: ID!) { deleteOrganization(id: $id) }', variables: { id: tenant.organizationId } };
    const replayed = await post(accountsGraphql, destroy, () => captured);
    expect(replayed.status).toBe(401);
    expect(replayed.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect((await post(accountsGraphql, { ...read, variables: { id: tenant.organizationId, x: 1 } }, () => captured)).status).toBe(401);
    // The organization is still there.
    expect((await post(stack.routerUrl, read, () => ({ authorization: `Bearer ${tenant.user.accessToken}` }))).body).toEqual({
      data: { organization: { name: 'Tenant' } },
    });
    // Internal routes too: headers signed for one key's lookup do not resolve another key.
    const other = await createTenant();
    const signedForOne = signIdentity(
      secret,
      { kind: 'service', service: 'router' },
      'captured-key',
      JSON.stringify({ key: tenant.apiKey }),
    );
    expect((await post(`${accountsUrl}/internal/api-keys/verify`, { key: tenant.apiKey }, () => signedForOne)).status).toBe(200);
    expect((await post(`${accountsUrl}/internal/api-keys/verify`, { key: other.apiKey }, () => signedForOne)).status).toBe(401);
  });

  it("refuses unsigned calls to accounts' API-key resolution", async () => {
    const tenant = await createTenant();
    const unsigned = await post(`${accountsUrl}/internal/api-keys/verify`, { key: tenant.apiKey });
    expect(unsigned.status).toBe(401);
    const asUser = await post(
      `${accountsUrl}/internal/api-keys/verify`,
      { key: tenant.apiKey },
      signedAs(secret, { kind: 'user', userId: tenant.user.userId }, 'r5'),
    );
    expect(asUser.status).toBe(401);
  });
});
