import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { schema } from './schema/index.ts';

// The graphql copy Node loaded for Pothos; a plain import here would get Vite's ESM copy.
const { execute, parse } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

// What the gateway sends accounts for `me { memberships { organization { projects { id } } } }`.
const entities = parse(`query ($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { memberships { role organization { id name projects { id } } } } }
}`);
const log = createLogger({ name: 'test', level: 'silent' });

async function userInOrganizations(count: number) {
  const userId = randomUUID();
  for (let i = 0; i < count; i++) {
    await prisma.organization.create({
      data: {
        name: `Batch ${i}`,
        slug: `batch-${userId.slice(0, 8)}-${i}`,
        memberships: { create: { userId, role: 'MEMBER' } },
        projects: { create: [{ name: 'a' }, { name: 'b' }] },
      },
    });
  }
  return userId;
}

let statements = 0;
prisma.$on('query', () => {
  statements++;
});

async function resolveMemberships(userId: string, others: string[] = []) {
  statements = 0;
  const result = await execute({
    schema,
    document: entities,
    variableValues: { representations: [userId, ...others].map((id) => ({ __typename: 'User', id })) },
    contextValue: { identity: { kind: 'user', userId }, requestId: 'batching-test', log },
  });
  return { result, statements };
}

afterAll(() => prisma.$disconnect());

it('resolves memberships, organizations and projects for a user in 50 organizations in as many statements as for one', async () => {
  const [many, one] = await Promise.all([userInOrganizations(50), userInOrganizations(1)]);

  const manyRun = await resolveMemberships(many);
  expect(manyRun.result.errors).toBeUndefined();
  const memberships = (manyRun.result.data as { _entities: { memberships: { organization: { projects: unknown[] } }[] }[] })._entities[0]!
    .memberships;
  expect(memberships).toHaveLength(50);
  expect(memberships.every((m) => m.organization.projects.length === 2)).toBe(true);

  const oneRun = await resolveMemberships(one);
  expect(oneRun.result.errors).toBeUndefined();
  expect(manyRun.statements).toBe(oneRun.statements);
  expect(manyRun.statements).toBeLessThanOrEqual(4);
});

it('resolves the memberships of 20 user entities (the members of an organization, say) in as many statements as of one', async () => {
  const caller = await userInOrganizations(1);
  const organization = await prisma.organization.findFirstOrThrow({ where: { memberships: { some: { userId: caller } } } });
  const members = Array.from({ length: 19 }, () => randomUUID());
  await prisma.membership.createMany({
    data: members.map((userId) => ({ organizationId: organization.id, userId, role: 'VIEWER' as const })),
  });

  // Entity ids in any case name the same user (PostgreSQL answers them in lower case).
  const manyRun = await resolveMemberships(
    caller,
    members.map((id) => id.toUpperCase()),
  );
  expect(manyRun.result.errors).toBeUndefined();
  const users = (manyRun.result.data as { _entities: { memberships: { role: string; organization: { id: string } }[] }[] })._entities;
  expect(users).toHaveLength(20);
  expect(users.every((user) => user.memberships.length === 1 && user.memberships[0]!.organization.id === organization.id)).toBe(true);
  expect(users.slice(1).every((user) => user.memberships[0]!.role === 'VIEWER')).toBe(true);

  const oneRun = await resolveMemberships(caller);
  expect(manyRun.statements).toBe(oneRun.statements);
});
