import { createRequire } from 'node:module';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { createTenant, gql, unique } from '../../e2e/client.ts';
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

// What the gateway sends analytics for `me { memberships { organization { usage { ... } } } }`.
const usageOfOrganizations = parse(`query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Organization { usage(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { totals { requests costUsd } topModels(limit: 2) { model totals { requests } } costByProject { project { id } totals { costUsd } } } }
  }
}`);

type Usage = {
  totals: { requests: number; costUsd: number };
  topModels: { model: string; totals: { requests: number } }[];
  costByProject: { project: { id: string }; totals: { costUsd: number } }[];
};

/** Usage of organization number `n`: n+1 requests of model-a, 2 of model-b, 3 of model-c in January, and some in February (outside the period). */
async function recordUsage(organizationId: string, projectId: string, n: number) {
  const row = (model: string, requests: number, bucket: Date) => ({
    organizationId,
    projectId,
    model,
    bucket,
    requests,
    inputTokens: 10,
    outputTokens: 10,
    costUsd: requests * 0.5,
  });
  await prisma.usageMinute.createMany({
    data: [
      row('model-a', n + 1, new Date('2026-01-05T10:00:00Z')),
      row('model-b', 2, new Date('2026-01-06T10:00:00Z')),
      row('model-c', 3, new Date('2026-01-07T10:00:00Z')),
      row('model-a', 100, new Date('2026-02-01T00:00:00Z')),
    ],
  });
}

async function run(userId: string, organizationIds: string[]) {
  statements = 0;
  const result = await execute({
    schema,
    document: usageOfOrganizations,
    variableValues: { representations: organizationIds.map((id) => ({ __typename: 'Organization', id })) },
    contextValue: { identity: { kind: 'user', userId }, requestId: 'batching-test', log },
  });
  expect(result.errors).toBeUndefined();
  return { usages: (result.data as { _entities: { usage: Usage }[] })._entities.map((entity) => entity.usage), statements };
}

it("reads the usage of a member's 6 organizations in as many statements as of one", async () => {
  const tenant = await createTenant();
  const organizations = [{ organizationId: tenant.organizationId, projectId: tenant.projectId }];
  for (let i = 0; i < 5; i++) {
    const org = await gql<{ createOrganization: { id: string } }>(
      'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
      { input: { name: 'More', slug: unique('org') } },
      { token: tenant.user.accessToken },
    );
    const organizationId = org.data!.createOrganization.id;
    const project = await gql<{ createProject: { id: string } }>(
      'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id } }',
      { input: { organizationId, name: 'Project' } },
      { token: tenant.user.accessToken },
    );
    organizations.push({ organizationId, projectId: project.data!.createProject.id });
  }
  await Promise.all(organizations.map(({ organizationId, projectId }, n) => recordUsage(organizationId, projectId, n)));

  const many = await run(
    tenant.user.userId,
    organizations.map((o) => o.organizationId),
  );
  const one = await run(tenant.user.userId, [tenant.organizationId]);
  expect(many.statements).toBe(one.statements);
  expect(many.statements).toBe(3);

  many.usages.forEach((usage, n) => {
    expect(usage.totals).toEqual({ requests: n + 1 + 2 + 3, costUsd: (n + 6) * 0.5 });
    // The costliest first: model-c (3 requests) beats model-a until model-a has more.
    const expected = [
      ['model-a', n + 1],
      ['model-b', 2],
      ['model-c', 3],
    ]
      .sort((a, b) => (b[1] as number) - (a[1] as number) || (a[0] as string).localeCompare(b[0] as string))
      .slice(0, 2);
    expect(usage.topModels.map((m) => [m.model, m.totals.requests])).toEqual(expected);
    expect(usage.costByProject).toEqual([{ project: { id: organizations[n]!.projectId }, totals: { costUsd: (n + 6) * 0.5 } }]);
  });
  expect(one.usages).toEqual([many.usages[0]]);
});
