import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/ports.ts';
import { createTenant, gql, stack, unique } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

// UNAVAILABLE promises that nothing was decided, so that the same request may be sent again. A
// mutation that reached its subgraph may have been carried out even when its answer is lost: the
// router must then say that the outcome is unknown. A proxy in front of the real accounts subgraph
// passes requests on and, when told to, drops the subgraph's answer (as a crash after committing would).
const accounts = new URL(stack.env['SUBGRAPH_URLS']!.match(/accounts=([^,]+)/)![1]!);
let loseAnswers = false;
const sockets = new Set<Socket>();
const proxy: Server = createServer((client) => {
  const upstream = connect(Number(accounts.port), accounts.hostname);
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  }
  client.pipe(upstream);
  upstream.on('data', (chunk) => (loseAnswers ? client.destroy() : client.write(chunk)));
  upstream.on('close', () => client.destroy());
  client.on('close', () => upstream.destroy());
});
let router: Awaited<ReturnType<typeof startExtraRouter>>;
let refusingRouter: Awaited<ReturnType<typeof startExtraRouter>>;

const createProject = (organizationId: string, name: string, token: string, url: string) =>
  gql<{ createProject: { id: string } | null }>(
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id name } }',
    { input: { organizationId, name } },
    { token, url },
  );

/** The organization's projects of that name, read through the test stack's own router. */
async function projectsNamed(organizationId: string, name: string, token: string) {
  const read = await gql<{ organization: { projects: { name: string }[] } }>(
    'query ($id: ID!) { organization(id: $id) { projects { name } } }',
    { id: organizationId },
    { token },
  );
  return read.data!.organization.projects.filter((project) => project.name === name).length;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  router = await startExtraRouter('router-lost-answers', {
    SUBGRAPH_URLS: stack.env['SUBGRAPH_URLS']!.replace(/accounts=[^,]+/, `accounts=http://127.0.0.1:${port}/graphql`),
    SUBGRAPH_TIMEOUT_MS: '2000',
  });
  // Nothing listens there: every request to accounts is refused before it is sent.
  const closed = await freePort();
  refusingRouter = await startExtraRouter('router-accounts-refused', {
    SUBGRAPH_URLS: stack.env['SUBGRAPH_URLS']!.replace(/accounts=[^,]+/, `accounts=http://127.0.0.1:${closed}/graphql`),
  });
});
afterAll(async () => {
  await Promise.all([router?.stop(), refusingRouter?.stop()]);
  for (const socket of sockets) socket.destroy();
  proxy.close();
});

describe('a mutation whose answer is lost', () => {
  it('is answered 502 with its outcome unknown, never UNAVAILABLE: it was carried out', async () => {
    const tenant = await createTenant();
    const name = unique('lost-answer');
    loseAnswers = true;
    const result = await createProject(tenant.organizationId, name, tenant.user.accessToken, router.url).finally(() => {
      loseAnswers = false;
    });
    expect(result.status).toBe(502);
    expect(result.headers.get('retry-after')).toBeNull();
    // createProject is non-null: its null is the whole answer's.
    expect(result.data).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.message).toMatch(/may have been carried out/);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown' });
    expect(result.errors?.[0]?.extensions?.['requestId']).toBe(result.headers.get('x-request-id'));
    // Which is why it could not be UNAVAILABLE: accounts created the project.
    expect(await projectsNamed(tenant.organizationId, name, tenant.user.accessToken)).toBe(1);
  });

  it('is answered normally once answers get through again', async () => {
    const tenant = await createTenant();
    const name = unique('answered');
    const result = await createProject(tenant.organizationId, name, tenant.user.accessToken, router.url);
    expect(result.status).toBe(200);
    expect(result.data?.createProject?.id).toEqual(expect.any(String));
    expect(await projectsNamed(tenant.organizationId, name, tenant.user.accessToken)).toBe(1);
  });

  it('leaves a query UNAVAILABLE: reading decides nothing', async () => {
    const tenant = await createTenant();
    loseAnswers = true;
    const result = await gql(
      'query ($id: ID!) { organization(id: $id) { id } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken, url: router.url },
    ).finally(() => {
      loseAnswers = false;
    });
    expect(result.status).toBe(503);
    expect(result.headers.get('retry-after')).toBe('5');
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('a mutation its subgraph never received', () => {
  it('is UNAVAILABLE (503, Retry-After), and nothing was carried out', async () => {
    const tenant = await createTenant();
    const name = unique('refused');
    const result = await createProject(tenant.organizationId, name, tenant.user.accessToken, refusingRouter.url);
    expect(result.status).toBe(503);
    expect(result.headers.get('retry-after')).toBe('5');
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfter: 5 });
    expect(await projectsNamed(tenant.organizationId, name, tenant.user.accessToken)).toBe(0);
  });
});

describe('a mutation carried out whose answer could not be completed', () => {
  it('is not UNAVAILABLE either: registered, but its publisher (accounts) could not be read', async () => {
    const tenant = await createTenant();
    const slug = unique('outcome');
    const result = await gql(
      'mutation ($input: RegisterMcpServerInput!) { registerMcpServer(input: $input) { id publisher { name } } }',
      { input: { organizationId: tenant.organizationId, name: slug, slug, description: 'lost answer', visibility: 'PRIVATE' } },
      { token: tenant.user.accessToken, url: refusingRouter.url },
    );
    expect(result.status).toBe(502);
    expect(result.headers.get('retry-after')).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown' });
    const read = await gql<{ mcpServers: { edges: { node: { slug: string } }[] } }>(
      'query ($search: String) { mcpServers(search: $search) { edges { node { slug } } } }',
      { search: slug },
      { token: tenant.user.accessToken },
    );
    expect(read.data?.mcpServers.edges.map(({ node }) => node.slug)).toEqual([slug]);
  });
});
