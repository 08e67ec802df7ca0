import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export const stack = inject('stack');

export interface GraphQLResult<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors: { message: string; path?: (string | number)[]; extensions: Record<string, any> & { code: string } }[] | undefined;
  extensions: Record<string, any> | undefined;
}

/** A GraphQL request to the router, as a client sends it. */
export async function gql<T = Record<string, any>>(
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string; headers?: Record<string, string>; url?: string } = {},
): Promise<GraphQLResult<T>> {
  const response = await fetch(options.url ?? stack.routerUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLResult<T>['errors']; extensions?: Record<string, any> };
  return { status: response.status, headers: response.headers, data: body.data, errors: body.errors, extensions: body.extensions };
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export const testPassword = 'a long test password';

export async function registerUser(name = 'Test User', email = `${unique('user')}@example.com`) {
  const result = await gql<{ register: { accessToken: string; refreshToken: string; user: { id: string } } }>(
    'mutation ($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id } } }',
    { input: { email, password: testPassword, name } },
  );
  if (!result.data) throw new Error(`register failed: ${JSON.stringify(result.errors)}`);
  const { accessToken, refreshToken, user } = result.data.register;
  return { email, password: testPassword, accessToken, refreshToken, userId: user.id };
}

/** A user with an organization, a project and an API key with the given scopes. */
export async function createTenant(scopes: string[] = ['usage:write', 'usage:read', 'projects:read']) {
  const user = await registerUser();
  const org = await gql<{ createOrganization: { id: string; slug: string } }>(
    'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id slug } }',
    { input: { name: 'Tenant', slug: unique('org') } },
    { token: user.accessToken },
  );
  const organizationId = org.data!.createOrganization.id;
  const project = await gql<{ createProject: { id: string } }>(
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id } }',
    { input: { organizationId, name: 'Project' } },
    { token: user.accessToken },
  );
  const projectId = project.data!.createProject.id;
  const key = await gql<{ createApiKey: { key: string; apiKey: { id: string } } }>(
    'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } } }',
    { input: { projectId, name: 'key', scopes } },
    { token: user.accessToken },
  );
  return { user, organizationId, projectId, apiKey: key.data!.createApiKey.key, apiKeyId: key.data!.createApiKey.apiKey.id };
}
