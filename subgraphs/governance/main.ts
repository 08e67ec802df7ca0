import { join } from 'node:path';
import { badUserInput } from '@mindweave/errors';
import { createLogger, onShutdown, packageRoot } from '@mindweave/service-kit';
import { isUuid, migrate, serviceRoute, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { memberships } from './access.ts';
import { bus } from './bus.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { policiesRoute } from './internal-routes.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'governance', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

/**
 * The usage subgraph's policy cache loads an organization's policies here (enabled and disabled,
 * as @mindweave/policy-engine's PolicyRecord).
 */
const policies = serviceRoute(policiesRoute, env.INTERNAL_SIGNING_SECRET, async ({ organizationId }) => {
  if (!isUuid(organizationId)) return badUserInput('organizationId must be a UUID', 'organizationId');
  return {
    policies: await prisma.policy.findMany({
      where: { organizationId },
      select: { id: true, name: true, type: true, rules: true, enabled: true, enforcing: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  };
});

const { close } = await startSubgraphServer({
  name: 'governance',
  port: env.GOVERNANCE_PORT,
  host: env.GOVERNANCE_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  optionalHealthChecks: { redis: () => redis.ping() },
  routes: [policies],
});

// policy.changed: the usage path's policy caches drop the organization's entry.
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log, intervalMs: 200 });

// A member removed or given another role: their cached memberships go as soon as the event arrives.
const membershipChanges = memberships.followChanges(bus, log);

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await membershipChanges.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
