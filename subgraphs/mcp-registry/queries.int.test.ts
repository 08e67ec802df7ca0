import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, expect, it } from 'vitest';
import { createLogger, type Identity } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { refreshSearchVector } from './search.ts';
import { schema } from './schema/index.ts';

// The graphql copy Node loaded for Pothos; a plain import here would get Vite's ESM copy.
const { execute, parse } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const log = createLogger({ name: 'test', level: 'silent' });

let statements = 0;
prisma.$on('query', () => {
  statements++;
});
afterAll(() => prisma.$disconnect());

const apiKeyOf = (organizationId: string, scopes = ['mcp:read']): Identity => ({
  kind: 'apiKey',
  apiKeyId: randomUUID(),
  projectId: randomUUID(),
  organizationId,
  scopes,
});

async function run(document: string, identity: Identity, variableValues: Record<string, unknown> = {}) {
  statements = 0;
  const result = await execute({
    schema,
    document: parse(document),
    variableValues,
    contextValue: { identity, requestId: 'queries-test', log },
  });
  return { result, statements };
}

/** `count` servers of a new organization whose names hold `term`, each with a version of three tools. */
async function organizationWithServers(count: number, term: string, visibility: 'PUBLIC' | 'PRIVATE' = 'PUBLIC') {
  const organizationId = randomUUID();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const server = await prisma.mcpServer.create({
      data: {
        organizationId,
        name: `${term} ${i}`,
        slug: `q-${randomBytes(6).toString('hex')}`,
        description: 'test',
        visibility,
        createdById: randomUUID(),
        versions: {
          create: {
            version: '1.0.0',
            transport: 'STDIO',
            publishedById: randomUUID(),
            tools: {
              create: [0, 1, 2].map((position) => ({ position, name: `t${position}`, description: '', inputSchema: { type: 'object' } })),
            },
          },
        },
      },
      include: { versions: true },
    });
    await prisma.mcpServer.update({ where: { id: server.id }, data: { latestVersionId: server.versions[0]!.id } });
    await refreshSearchVector(prisma, server.id);
    ids.push(server.id);
  }
  return { organizationId, ids };
}

const page = `query ($search: String) { mcpServers(search: $search, first: 50) { edges { node { id latestVersion { version tools { name } } publisher { id } } } } }`;

it('loads a page of servers with their latest versions and tools in as many statements for 20 servers as for 1', async () => {
  const [manyTerm, oneTerm] = [`zq${randomBytes(5).toString('hex')}`, `zq${randomBytes(5).toString('hex')}`];
  await organizationWithServers(20, manyTerm);
  await organizationWithServers(1, oneTerm);
  const anonymous: Identity = { kind: 'anonymous' };

  const many = await run(page, anonymous, { search: manyTerm });
  expect(many.result.errors).toBeUndefined();
  const edges = (many.result.data as { mcpServers: { edges: { node: { latestVersion: { tools: unknown[] } } }[] } }).mcpServers.edges;
  expect(edges).toHaveLength(20);
  expect(edges.every((edge) => edge.node.latestVersion.tools.length === 3)).toBe(true);
  const one = await run(page, anonymous, { search: oneTerm });
  expect(one.result.errors).toBeUndefined();
  expect(many.statements).toBe(one.statements);
  // The ranked page with its count, then the nodes with their versions and tools (relationJoins).
  expect(many.statements).toBeLessThanOrEqual(2);
});

it('resolves references to servers the caller may see only', async () => {
  const term = `zq${randomBytes(5).toString('hex')}`;
  const { organizationId, ids } = await organizationWithServers(1, term, 'PRIVATE');
  const open = await organizationWithServers(1, term, 'PUBLIC');
  const entities = `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on McpServer { id latestVersion { version } } } }`;
  const representations = [...ids, ...open.ids].map((id) => ({ __typename: 'McpServer', id }));

  const asOwner = await run(entities, apiKeyOf(organizationId), { representations });
  expect(asOwner.result.data).toEqual({
    _entities: [
      { id: ids[0], latestVersion: { version: '1.0.0' } },
      { id: open.ids[0], latestVersion: { version: '1.0.0' } },
    ],
  });
  // An API key of the organization without mcp:read sees what anyone sees.
  for (const outsider of [apiKeyOf(randomUUID()), apiKeyOf(organizationId, ['usage:write']), { kind: 'anonymous' } as const]) {
    const seen = await run(entities, outsider, { representations });
    expect(seen.result.data).toEqual({ _entities: [null, { id: open.ids[0], latestVersion: { version: '1.0.0' } }] });
  }
});
