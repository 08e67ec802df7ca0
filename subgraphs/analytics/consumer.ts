import { join } from 'node:path';
import { hostname } from 'node:os';
import { createEventBus, observeConsumerLag } from '@mindweave/events';
import { createServer } from 'node:http';
import {
  closeServer,
  createHealthRoutes,
  createLogger,
  createServiceMetrics,
  kafkaSettingsOf,
  listen,
  onShutdown,
  packageRoot,
  sendJson,
} from '@mindweave/service-kit';
import { createPgPool } from '@mindweave/subgraph-kit/db';
import { migrate } from '@mindweave/subgraph-kit/migrations';
import { monthOf, settlePersisted } from '@mindweave/usage-totals';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { monthTotals, persistUsage } from './persist.ts';
import { redis } from './redis.ts';

// The persistence consumer: its own process, as many instances as needed (one consumer group).
const log = createLogger({ name: 'analytics-consumer', level: env.LOG_LEVEL });
// The tables its statement writes must be there first, whichever of it and the subgraph starts first
// (migrations run under an advisory lock, so both may).
await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });
// Its batch insert skips Prisma (persist.ts).
const persistPool = createPgPool(env.DATABASE_URL, dbSchema, log);
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `analytics-${hostname()}-${process.pid}`, log });

const subscription = await bus.consume({
  group: 'analytics-persistence',
  consumer: `${hostname()}-${process.pid}`,
  domains: ['usage'],
  batchSize: env.CONSUMER_BATCH_SIZE,
  handler: async (events) => {
    const started = performance.now();
    const months = await persistUsage(persistPool, events);
    // Failing here fails the batch: redelivered, it is stored as no new rows and settles again.
    await settlePersisted(redis, months);
    log.debug({ events: events.length, durationMs: Math.round(performance.now() - started) }, 'usage persisted');
  },
});

// Month-to-date totals lost from Redis (a flush, an eviction) come back from PostgreSQL now rather
// than at each organization's next event.
const thisMonth = new Date();
const lastMonth = new Date(Date.UTC(thisMonth.getUTCFullYear(), thisMonth.getUTCMonth() - 1, 1));
await monthTotals(persistPool, [monthOf(thisMonth), monthOf(lastMonth)])
  .then((months) => settlePersisted(redis, months))
  .catch((error: unknown) =>
    log.warn({ err: error }, 'month-to-date totals not copied to Redis at start; each settles with its next batch'),
  );

const handleHealth = createHealthRoutes(
  'analytics-consumer',
  { postgres: () => persistPool.query('SELECT 1'), redis: () => redis.ping() },
  { details: async () => ({ consumers: await subscription.lag() }) },
);
const metrics = createServiceMetrics();
observeConsumerLag(metrics, subscription);
const health = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://consumer').pathname;
  if (!(await handleHealth(req, res, path)) && !(await metrics.handle(req, res, path))) sendJson(res, 404, { error: 'not found' });
});
await listen(health, env.CONSUMER_HEALTH_PORT, env.ANALYTICS_HOST);
log.info({ transport: bus.transport, healthPort: env.CONSUMER_HEALTH_PORT }, 'analytics consumer ready');

onShutdown(log, async () => {
  await subscription.stop();
  await closeServer(health);
  await bus.close();
  await Promise.all([prisma.$disconnect(), persistPool.end(), redis.quit()]);
});
