import { fileURLToPath } from 'node:url';
import { createLogger, onShutdown } from '@mindweave/service-kit';
import { migrate, serviceRoute, startSubgraphServer } from '@mindweave/subgraph-kit';
import { isUuid } from './access.ts';
import { verifyApiKey } from './api-keys.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'accounts', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: fileURLToPath(new URL('./migrations', import.meta.url)), log });

/** The router resolves API keys here. */
const verifyApiKeyRoute = serviceRoute('/internal/api-keys/verify', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const verified = typeof body['key'] === 'string' ? await verifyApiKey(body['key'], log) : null;
  return verified ? { status: 200, body: verified } : { status: 404, body: { error: 'unknown or revoked key' } };
});

/** Other subgraphs ask here which organizations a user belongs to (packages/subgraph-kit/memberships.ts). */
const membershipsRoute = serviceRoute('/internal/memberships', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const userId = typeof body['userId'] === 'string' && isUuid(body['userId']) ? body['userId'] : null;
  const memberships = userId ? await prisma.membership.findMany({ where: { userId }, select: { organizationId: true, role: true } }) : [];
  return { status: 200, body: { memberships } };
});

/** The workers ask here for an organization's plan and members (quota alerts, notices). */
const organizationsRoute = serviceRoute('/internal/organizations', env.INTERNAL_SIGNING_SECRET, async (body) => {
  const organizationId = typeof body['organizationId'] === 'string' && isUuid(body['organizationId']) ? body['organizationId'] : null;
  const organization = organizationId
    ? await prisma.organization.findUnique({
        where: { id: organizationId },
        select: { id: true, name: true, plan: true, memberships: { select: { userId: true, role: true }, orderBy: { createdAt: 'asc' } } },
      })
    : null;
  if (!organization) return { status: 404, body: { error: 'unknown organization' } };
  return { status: 200, body: { id: organization.id, name: organization.name, plan: organization.plan, members: organization.memberships } };
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
  routes: [verifyApiKeyRoute, membershipsRoute, organizationsRoute],
});

onShutdown(log, async () => {
  await close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
