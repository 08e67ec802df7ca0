import { join } from 'node:path';
import { notFound } from '@mindweave/errors';
import { createLogger, onShutdown, packageRoot } from '@mindweave/service-kit';
import { isUuid, migrate, serviceRoute, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { verifyApiKey as verifyApiKeyOf } from './api-keys.ts';
import { bus } from './bus.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import {
  deletedOrganizationsRoute,
  membershipsByUserRoute,
  membershipsRoute,
  organizationRoute,
  purgedOrganizationsRoute,
  verifyApiKeyRoute,
  type Membership,
} from './internal-routes.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'accounts', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

/** The router resolves API keys here. */
const verifyApiKey = serviceRoute(
  verifyApiKeyRoute,
  env.INTERNAL_SIGNING_SECRET,
  async ({ key }) => (await verifyApiKeyOf(key, log)) ?? notFound('API key'),
);

const uuids = (ids: string[], max: number) => ids.filter(isUuid).slice(0, max);

/** Which organizations users belong to, deleted ones left out (other subgraphs: packages/subgraph-kit; the router). */
async function membershipRows(userIds: string[]) {
  return userIds.length
    ? await prisma.membership.findMany({
        where: { userId: { in: userIds }, organization: { deletedAt: null } },
        select: { userId: true, organizationId: true, role: true },
      })
    : [];
}
const memberships = serviceRoute(membershipsRoute, env.INTERNAL_SIGNING_SECRET, async ({ userId }) => ({
  memberships: (await membershipRows(isUuid(userId) ? [userId] : [])).map(({ organizationId, role }) => ({ organizationId, role })),
}));
/** The router re-checking every subscriber's memberships at once. */
const membershipsByUser = serviceRoute(
  membershipsByUserRoute,
  env.INTERNAL_SIGNING_SECRET,
  async (body) => {
    const userIds = uuids(body.userIds, 10_000);
    const byUser: Record<string, Membership[]> = Object.fromEntries(userIds.map((id) => [id, []]));
    for (const { userId, organizationId, role } of await membershipRows(userIds)) byUser[userId]!.push({ organizationId, role });
    return { byUser };
  },
  1 << 20,
);

/** The workers ask here for an organization's plan and members (quota alerts, notices); a deleted one is unknown. */
const organizations = serviceRoute(organizationRoute, env.INTERNAL_SIGNING_SECRET, async ({ organizationId }) => {
  const organization = isUuid(organizationId)
    ? await prisma.organization.findFirst({
        where: { id: organizationId, deletedAt: null },
        select: { id: true, name: true, plan: true, memberships: { select: { userId: true, role: true }, orderBy: { createdAt: 'asc' } } },
      })
    : null;
  if (!organization) return notFound('Organization');
  return { id: organization.id, name: organization.name, plan: organization.plan, members: organization.memberships };
});

/**
 * The purge job (analytics' organization-purge processor) asks which organizations were deleted
 * before `before` and still hold usage data, and tells which ones it has purged.
 */
const deletedOrganizations = serviceRoute(deletedOrganizationsRoute, env.INTERNAL_SIGNING_SECRET, async ({ before }) => {
  const rows = await prisma.organization.findMany({
    where: { deletedAt: { lt: new Date(before) }, usagePurgedAt: null },
    select: { id: true },
    orderBy: { deletedAt: 'asc' },
    take: 500,
  });
  return { organizationIds: rows.map((row) => row.id) };
});
const purgedOrganizations = serviceRoute(purgedOrganizationsRoute, env.INTERNAL_SIGNING_SECRET, async (body) => {
  const ids = uuids(body.organizationIds, 500);
  const { count } = ids.length
    ? await prisma.organization.updateMany({
        where: { id: { in: ids }, deletedAt: { not: null }, usagePurgedAt: null },
        data: { usagePurgedAt: new Date() },
      })
    : { count: 0 };
  return { marked: count };
});

const { close } = await startSubgraphServer({
  name: 'accounts',
  port: env.ACCOUNTS_PORT,
  host: env.ACCOUNTS_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  optionalHealthChecks: { redis: () => redis.ping() },
  routes: [verifyApiKey, memberships, membershipsByUser, organizations, deletedOrganizations, purgedOrganizations],
});

// Membership and key events leave through the outbox, written with each change; a short interval,
// since every router waits on them to drop what it cached and close what lost its right.
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log, intervalMs: 200 });

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
