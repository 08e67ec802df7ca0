import { join } from 'node:path';
import { createLogger, onShutdown, packageRoot } from '@mindweave/service-kit';
import { isUuid, migrate, serviceRoute, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { verifyApiKey } from './api-keys.ts';
import { bus } from './bus.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'accounts', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

/** The router resolves API keys here. */
const verifyApiKeyRoute = serviceRoute('/internal/api-keys/verify', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const verified = typeof body['key'] === 'string' ? await verifyApiKey(body['key'], log) : null;
  return verified ? { status: 200, body: verified } : { status: 404, body: { error: 'unknown, revoked or expired key' } };
});

const uuids = (value: unknown, max: number) => (Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string' && isUuid(id)).slice(0, max) : []);

/**
 * Which organizations users belong to, deleted ones left out: `{ userId }` answers `{ memberships }`
 * (other subgraphs, packages/subgraph-kit/memberships.ts), `{ userIds }` answers `{ byUser }` (the
 * router re-checking every subscriber's memberships at once).
 */
const membershipsRoute = serviceRoute(
  '/internal/memberships',
  env.INTERNAL_SIGNING_SECRET,
  async (body) => {
    const single = typeof body['userId'] === 'string' && isUuid(body['userId']) ? body['userId'] : null;
    const userIds = single ? [single] : uuids(body['userIds'], 10_000);
    const rows = userIds.length
      ? await prisma.membership.findMany({ where: { userId: { in: userIds }, organization: { deletedAt: null } }, select: { userId: true, organizationId: true, role: true } })
      : [];
    if (!Array.isArray(body['userIds'])) return { status: 200, body: { memberships: rows.map(({ organizationId, role }) => ({ organizationId, role })) } };
    const byUser: Record<string, { organizationId: string; role: string }[]> = Object.fromEntries(userIds.map((id) => [id, []]));
    for (const { userId, organizationId, role } of rows) byUser[userId]!.push({ organizationId, role });
    return { status: 200, body: { byUser } };
  },
  1 << 20,
);

/** The workers ask here for an organization's plan and members (quota alerts, notices); a deleted one is unknown. */
const organizationsRoute = serviceRoute('/internal/organizations', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const organizationId = typeof body['organizationId'] === 'string' && isUuid(body['organizationId']) ? body['organizationId'] : null;
  const organization = organizationId
    ? await prisma.organization.findFirst({
        where: { id: organizationId, deletedAt: null },
        select: { id: true, name: true, plan: true, memberships: { select: { userId: true, role: true }, orderBy: { createdAt: 'asc' } } },
      })
    : null;
  if (!organization) return { status: 404, body: { error: 'unknown organization' } };
  return { status: 200, body: { id: organization.id, name: organization.name, plan: organization.plan, members: organization.memberships } };
});

/**
 * The purge job (workers/organization-purge.ts) asks which organizations were deleted before
 * `before` and still hold usage data, and tells which ones it has purged.
 */
const deletedOrganizationsRoute = serviceRoute('/internal/organizations/deleted', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const before = typeof body['before'] === 'string' ? new Date(body['before']) : null;
  if (!before || Number.isNaN(before.getTime())) return { status: 400, body: { error: 'before: an ISO date-time' } };
  const rows = await prisma.organization.findMany({ where: { deletedAt: { lt: before }, usagePurgedAt: null }, select: { id: true }, orderBy: { deletedAt: 'asc' }, take: 500 });
  return { status: 200, body: { organizationIds: rows.map((row) => row.id) } };
});
const purgedOrganizationsRoute = serviceRoute('/internal/organizations/purged', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const ids = uuids(body['organizationIds'], 500);
  const { count } = ids.length ? await prisma.organization.updateMany({ where: { id: { in: ids }, deletedAt: { not: null }, usagePurgedAt: null }, data: { usagePurgedAt: new Date() } }) : { count: 0 };
  return { status: 200, body: { marked: count } };
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
  routes: [verifyApiKeyRoute, membershipsRoute, organizationsRoute, deletedOrganizationsRoute, purgedOrganizationsRoute],
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
