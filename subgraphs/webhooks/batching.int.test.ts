import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { createTenant } from '../../e2e/client.ts';
import { prisma } from './db.ts';
import { schema } from './schema/index.ts';

// The graphql copy Node loaded for Pothos; a plain import here would get Vite's ESM copy.
const { execute, parse } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const log = createLogger({ name: 'test', level: 'silent' });

let statements = 0;
prisma.$on('query', () => {
  statements++;
});
afterAll(() => prisma.$disconnect());

type Page = { edges: { cursor: string; node: { eventId: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

// What the gateway sends webhooks for `organization(id:) { webhookEndpoints { deliveries(first: 3) { ... } } }`.
const endpointsWithDeliveries = parse(`query ($representations: [_Any!]!, $after: String) {
  _entities(representations: $representations) {
    ... on Organization { webhookEndpoints { id deliveries(first: 3, after: $after) { edges { cursor node { eventId } } pageInfo { hasNextPage endCursor } } } }
  }
}`);

/** `endpoints` endpoints of the organization, each with five deliveries a second apart (e<i>-d0 the oldest). */
async function endpointsOf(organizationId: string, endpoints: number) {
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < endpoints; i++) {
    const endpoint = await prisma.webhookEndpoint.create({
      data: {
        organizationId,
        url: 'https://example.com/hook',
        eventTypes: ['usage.recorded'],
        secret: 'unused',
        createdById: randomUUID(),
      },
    });
    await prisma.webhookDelivery.createMany({
      data: [0, 1, 2, 3, 4].map((d) => ({
        endpointId: endpoint.id,
        eventId: `e${i}-d${d}`,
        eventType: 'usage.recorded',
        attempt: 1,
        status: 'SUCCEEDED' as const,
        httpStatus: 200,
        latencyMs: 5,
        createdAt: new Date(start + d * 1000),
      })),
    });
  }
}

async function run(tenant: Awaited<ReturnType<typeof createTenant>>, after?: string) {
  statements = 0;
  const result = await execute({
    schema,
    document: endpointsWithDeliveries,
    variableValues: { representations: [{ __typename: 'Organization', id: tenant.organizationId }], after },
    contextValue: { identity: { kind: 'user', userId: tenant.user.userId }, requestId: 'batching-test', log },
  });
  expect(result.errors).toBeUndefined();
  const endpoints = (result.data as { _entities: { webhookEndpoints: { deliveries: Page }[] }[] })._entities[0]!.webhookEndpoints;
  return { endpoints, statements };
}

it("reads the delivery logs of an organization's 20 endpoints in as many statements as of one", async () => {
  const [many, one] = await Promise.all([createTenant(), createTenant()]);
  await Promise.all([endpointsOf(many.organizationId, 20), endpointsOf(one.organizationId, 1)]);

  const manyRun = await run(many);
  const oneRun = await run(one);
  expect(manyRun.endpoints).toHaveLength(20);
  expect(manyRun.statements).toBe(oneRun.statements);
  expect(manyRun.statements).toBe(2);

  // Each endpoint gets its own page, newest first, with its own cursors.
  manyRun.endpoints.forEach((endpoint, i) => {
    expect(endpoint.deliveries.edges.map((edge) => edge.node.eventId)).toEqual([`e${i}-d4`, `e${i}-d3`, `e${i}-d2`]);
    expect(endpoint.deliveries.pageInfo).toEqual({ hasNextPage: true, endCursor: endpoint.deliveries.edges[2]!.cursor });
  });

  // The next page follows the cursor (the same for every endpoint here, since they were written alike).
  const next = await run(one, oneRun.endpoints[0]!.deliveries.pageInfo.endCursor!);
  expect(next.endpoints[0]!.deliveries.edges.map((edge) => edge.node.eventId)).toEqual(['e0-d1', 'e0-d0']);
  expect(next.endpoints[0]!.deliveries.pageInfo.hasNextPage).toBe(false);
});
