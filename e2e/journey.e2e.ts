import { describe, expect, it } from 'vitest';
import { createTenant, gql, registerUser, unique } from './client.ts';

const meQuery = '{ me { id email memberships { role organization { id name projects { id } } } } }';

describe('the contract journey through the router', () => {
  it('register -> createOrganization -> createProject -> createApiKey -> me, with a JWT', async () => {
    const user = await registerUser('Journey');
    const org = await gql(
      'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id name slug } }',
      { input: { name: 'Journey Inc', slug: unique('journey') } },
      { token: user.accessToken },
    );
    expect(org.errors).toBeUndefined();
    const organizationId = org.data!.createOrganization.id;
    const project = await gql(
      'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id name organization { id name } } }',
      { input: { organizationId, name: 'Bots' } },
      { token: user.accessToken },
    );
    expect(project.data!.createProject.organization).toEqual({ id: organizationId, name: 'Journey Inc' });
    const key = await gql(
      'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id name prefix scopes revokedAt } } }',
      { input: { projectId: project.data!.createProject.id, name: 'ci', scopes: ['usage:write'] } },
      { token: user.accessToken },
    );
    const created = key.data!.createApiKey;
    expect(created.key).toMatch(/^mw_sk_[A-Za-z0-9_-]{43,}$/);
    expect(created.key.startsWith(created.apiKey.prefix)).toBe(true);
    expect(created.apiKey).toMatchObject({ name: 'ci', scopes: ['usage:write'], revokedAt: null });

    const me = await gql(meQuery, {}, { token: user.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toEqual({
      id: user.userId,
      email: user.email,
      memberships: [
        { role: 'OWNER', organization: { id: organizationId, name: 'Journey Inc', projects: [{ id: project.data!.createProject.id }] } },
      ],
    });
  });

  it('serves the same data to the project API key in every accepted header form', async () => {
    const tenant = await createTenant();
    const query = 'query ($id: ID!) { me { id } organization(id: $id) { id projects { id organization { id } } } }';
    const expected = {
      me: null,
      organization: { id: tenant.organizationId, projects: [{ id: tenant.projectId, organization: { id: tenant.organizationId } }] },
    };
    const headerForms: Record<string, string>[] = [
      { authorization: `Bearer ${tenant.apiKey}` },
      { authorization: tenant.apiKey },
      { 'x-api-key': tenant.apiKey },
    ];
    for (const headers of headerForms) {
      const result = await gql(query, { id: tenant.organizationId }, { headers });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual(expected);
    }
  });

  it('answers me with null for anonymous callers and refuses a bad token', async () => {
    expect((await gql('{ me { id } }')).data).toEqual({ me: null });
    const bad = await gql('{ me { id } }', {}, { token: 'not-a-jwt' });
    expect(bad.status).toBe(401);
    expect(bad.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    const unknownKey = await gql('{ me { id } }', {}, { token: `mw_sk_${'x'.repeat(43)}` });
    expect(unknownKey.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('echoes x-request-id and makes one when none is sent', async () => {
    const echoed = await gql('{ me { id } }', {}, { headers: { 'x-request-id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const made = await gql('{ me { id } }');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
