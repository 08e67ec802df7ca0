import { join } from 'node:path';
import { createLogger, onShutdown, packageRoot } from '@mindweave/service-kit';
import { migrate, startSubgraphServer } from '@mindweave/subgraph-kit';
import { bus } from './bus.ts';
import { followPolicyChanges } from './policies.ts';
import { currentPrices } from './prices.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'usage', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

const policyChanges = await followPolicyChanges(log);

const { close } = await startSubgraphServer({
  name: 'usage',
  port: env.USAGE_PORT,
  host: env.USAGE_HOST,
  schema,
  jit: true,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  // Redis holds the idempotency claims and the event log; the prices are kept in memory once read,
  // so ingestion goes on while PostgreSQL is down (but not before they were read once).
  healthChecks: { redis: () => redis.ping(), prices: () => currentPrices() },
  optionalHealthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
});

onShutdown(log, async () => {
  await close();
  await policyChanges.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
