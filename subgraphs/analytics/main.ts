import { join } from 'node:path';
import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger, kafkaSettingsOf, onShutdown, packageRoot } from '@mindweave/service-kit';
import { migrate, startSubgraphServer } from '@mindweave/subgraph-kit';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { memberships } from './memberships.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'analytics', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

// A member removed or given another role: their cached memberships go as soon as the event arrives.
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `analytics-api-${hostname()}-${process.pid}`, log });
const membershipChanges = memberships.followChanges(bus, log);

const { close } = await startSubgraphServer({
  name: 'analytics',
  port: env.ANALYTICS_PORT,
  host: env.ANALYTICS_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  optionalHealthChecks: { redis: () => redis.ping() },
});

onShutdown(log, async () => {
  await close();
  await membershipChanges.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
