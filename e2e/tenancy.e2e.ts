import { describe, expect, it } from 'vitest';
import { createTenant, gql, registerUser, unique } from './client.ts';

const createProject = 'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id } }';
const createApiKey = 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }';

describe('tenancy and roles', () => {
  it("answers NOT_FOUND for another tenant's organization, to users and API keys alike", async () => {
    const a = await createTenant();
    const b = await createTenant();
    const query = 'query ($id: ID!) { organization(id: $id) { id name } }';
    for (const token of [b.user.accessToken, b.apiKey]) {
      const result = await gql(query, { id: a.organizationId }, { token });
      expect(result.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
      expect(result.data?.organization ?? null).toBeNull();
    }
    const missing = await gql(query, { id: '00000000-0000-4000-8000-000000000000' }, { token: b.user.accessToken });
    expect(missing.errors?.[0]?.message).toBe(
      (await gql(query, { id: a.organizationId }, { token: b.user.accessToken })).errors?.[0]?.message,
    );
    // Nor can B create projects in A's organization.
    const intrude = await gql(createProject, { input: { organizationId: a.organizationId, name: 'x' } }, { token: b.user.accessToken });
    expect(intrude.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('lets only OWNER and ADMIN create projects and keys', async () => {
    const owner = await createTenant();
    const member = await registerUser('Member');
    const admin = await registerUser('Admin');
    const add = 'mutation ($input: AddMemberInput!) { addMember(input: $input) { role organization { id } } }';
    expect(
      (
        await gql(
          add,
          { input: { organizationId: owner.organizationId, userId: member.userId, role: 'MEMBER' } },
          { token: owner.user.accessToken },
        )
      ).data,
    ).toEqual({
      addMember: { role: 'MEMBER', organization: { id: owner.organizationId } },
    });
    await gql(
      add,
      { input: { organizationId: owner.organizationId, userId: admin.userId, role: 'ADMIN' } },
      { token: owner.user.accessToken },
    );

    const asMember = await gql(
      createProject,
      { input: { organizationId: owner.organizationId, name: 'm' } },
      { token: member.accessToken },
    );
    expect(asMember.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const keyAsMember = await gql(
      createApiKey,
      { input: { projectId: owner.projectId, name: 'm', scopes: [] } },
      { token: member.accessToken },
    );
    expect(keyAsMember.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    // A member sees the organization, though.
    const seen = await gql(
      'query ($id: ID!) { organization(id: $id) { projects { id } } }',
      { id: owner.organizationId },
      { token: member.accessToken },
    );
    expect(seen.data).toEqual({ organization: { projects: [{ id: owner.projectId }] } });

    const asAdmin = await gql(createProject, { input: { organizationId: owner.organizationId, name: 'a' } }, { token: admin.accessToken });
    expect(asAdmin.errors).toBeUndefined();
    const keyAsAdmin = await gql(
      createApiKey,
      { input: { projectId: owner.projectId, name: 'a', scopes: ['usage:read'] } },
      { token: admin.accessToken },
    );
    expect(keyAsAdmin.data!.createApiKey.key).toMatch(/^mw_sk_/);
    const ownerByAdmin = await gql(
      add,
      { input: { organizationId: owner.organizationId, userId: member.userId, role: 'OWNER' } },
      { token: admin.accessToken },
    );
    expect(ownerByAdmin.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('needs a signed-in user to create an organization', async () => {
    const tenant = await createTenant();
    const input = { name: 'x', slug: unique('anon') };
    const mutation = 'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }';
    // Anonymous callers are stopped by the router (@authenticated) as unauthenticated, API keys by the subgraph.
    const anonymous = await gql(mutation, { input });
    expect(anonymous.data).toBeNull();
    expect(anonymous.errors).toEqual([
      expect.objectContaining({
        message: 'Sign in to see createOrganization',
        path: ['createOrganization'],
        extensions: { code: 'UNAUTHENTICATED' },
      }),
    ]);
    expect((await gql(mutation, { input }, { token: tenant.apiKey })).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('API keys', () => {
  it('stops working as soon as it is revoked, and records when it was last used', async () => {
    const tenant = await createTenant();
    const query = 'query ($id: ID!) { organization(id: $id) { id } }';
    expect((await gql(query, { id: tenant.organizationId }, { token: tenant.apiKey })).errors).toBeUndefined();
    // accounts records the use after answering (the bookkeeping never holds up or fails a key).
    const lastUsedAt = async () =>
      (
        await gql(
          'query ($id: ID!) { organization(id: $id) { projects { apiKeys { id lastUsedAt } } } }',
          { id: tenant.organizationId },
          { token: tenant.user.accessToken },
        )
      ).data!.organization.projects[0].apiKeys[0].lastUsedAt;
    await expect.poll(lastUsedAt, { timeout: 5_000 }).toEqual(expect.any(String));

    const revoked = await gql(
      'mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }',
      { id: tenant.apiKeyId },
      { token: tenant.user.accessToken },
    );
    expect(revoked.data!.revokeApiKey.revokedAt).toEqual(expect.any(String));
    const after = await gql(query, { id: tenant.organizationId }, { token: tenant.apiKey });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses unknown scopes, naming the field', async () => {
    const tenant = await createTenant();
    const result = await gql(
      createApiKey,
      { input: { projectId: tenant.projectId, name: 'k', scopes: ['root'] } },
      { token: tenant.user.accessToken },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.scopes.0' });
  });
});

describe('bad input', () => {
  it('answers BAD_USER_INPUT naming the field', async () => {
    const register = 'mutation ($input: RegisterInput!) { register(input: $input) { accessToken } }';
    const cases = [
      [{ email: 'not-an-email', password: 'long enough password', name: 'x' }, 'input.email'],
      [{ email: `${unique('u')}@example.com`, password: 'short', name: 'x' }, 'input.password'],
      [{ email: `${unique('u')}@example.com`, password: 'long enough password', name: '   ' }, 'input.name'],
    ] as const;
    for (const [input, field] of cases) {
      const result = await gql(register, { input });
      expect(result.errors?.[0]?.extensions, field).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(result.errors?.[0]?.message).toContain(field);
    }
    const tenant = await createTenant();
    const badSlug = await gql(
      'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
      { input: { name: 'x', slug: 'Not A Slug' } },
      { token: tenant.user.accessToken },
    );
    expect(badSlug.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.slug' });
  });

  it('answers CONFLICT for a duplicate email or slug', async () => {
    const user = await registerUser();
    const again = await gql('mutation ($input: RegisterInput!) { register(input: $input) { accessToken } }', {
      input: { email: user.email.toUpperCase(), password: 'another long password', name: 'y' },
    });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.email' });

    const slug = unique('dup');
    const create = 'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }';
    expect((await gql(create, { input: { name: 'a', slug } }, { token: user.accessToken })).errors).toBeUndefined();
    const dup = await gql(create, { input: { name: 'b', slug } }, { token: user.accessToken });
    expect(dup.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.slug' });
  });

  it('answers GRAPHQL_PARSE_FAILED and GRAPHQL_VALIDATION_FAILED for broken documents', async () => {
    expect((await gql('{ me { id ')).errors?.[0]?.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await gql('{ me { nope } }')).errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
