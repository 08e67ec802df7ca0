import { isDeepStrictEqual } from 'node:util';

export const benchQuery = 'query Bench { me { id name memberships { role organization { id name slug projects { id name } } } } }';

export const organizationCount = 10;
export const projectsPerOrganization = 3;

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function postGraphQL<T>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLBody<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  try {
    return JSON.parse(text) as GraphQLBody<T>;
  } catch {
    throw new Error(`${url} answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
}

/** The data of an operation that must succeed. */
async function mustSucceed<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const body = await postGraphQL<T>(url, query, variables, token);
  if (body.errors?.length || !body.data) throw new Error(`seeding failed on ${query.slice(0, 40)}...: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export interface Seeded {
  accessToken: string;
  userId: string;
}

/** One user owning 10 organizations of 3 projects each, created through the router. */
export async function seed(routerUrl: string, runId: string): Promise<Seeded> {
  const { register } = await mustSucceed<{ register: { accessToken: string; user: { id: string } } }>(
    routerUrl,
    'mutation Register($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }',
    { input: { email: `bench-${runId}@example.com`, password: 'a long benchmark password', name: 'Bench User' } },
  );
  const token = register.accessToken;
  for (let o = 1; o <= organizationCount; o++) {
    const { createOrganization } = await mustSucceed<{ createOrganization: { id: string } }>(
      routerUrl,
      'mutation Org($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
      { input: { name: `Bench organization ${o}`, slug: `bench-${runId}-${o}` } },
      token,
    );
    for (let p = 1; p <= projectsPerOrganization; p++) {
      await mustSucceed(
        routerUrl,
        'mutation Project($input: CreateProjectInput!) { createProject(input: $input) { id } }',
        { input: { organizationId: createOrganization.id, name: `Project ${o}.${p}` } },
        token,
      );
    }
  }
  return { accessToken: token, userId: register.user.id };
}

type BenchData = { me: { memberships: { organization: { projects: unknown[] } }[] } | null };

/**
 * Both targets must answer the benchmark query with the same data, and that data must be the whole
 * seed: otherwise the benchmark would compare different work.
 */
export async function checkSameData(urls: Record<string, string>, token: string): Promise<void> {
  const answers = await Promise.all(
    Object.entries(urls).map(async ([name, url]) => ({ name, body: await postGraphQL<BenchData>(url, benchQuery, {}, token) })),
  );
  for (const { name, body } of answers) {
    if (body.errors?.length) throw new Error(`${name} answered the benchmark query with errors: ${JSON.stringify(body.errors)}`);
    const memberships = body.data?.me?.memberships ?? [];
    const projects = memberships.reduce((sum, m) => sum + m.organization.projects.length, 0);
    if (memberships.length !== organizationCount || projects !== organizationCount * projectsPerOrganization) {
      throw new Error(`${name} sees ${memberships.length} organizations and ${projects} projects, not the seeded ones`);
    }
  }
  const [first, ...others] = answers;
  for (const other of others) {
    if (!isDeepStrictEqual(first?.body.data, other.body.data)) {
      throw new Error(
        `${first?.name} and ${other.name} answer different data:\n${JSON.stringify(first?.body.data)}\n${JSON.stringify(other.body.data)}`,
      );
    }
  }
}
