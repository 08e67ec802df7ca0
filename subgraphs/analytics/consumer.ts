import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createServer } from 'node:http';
import { closeServer, createHealthRoutes, createLogger, listen, onShutdown, sendJson } from '@mindweave/service-kit';
import { createPgPool } from '@mindweave/subgraph-kit';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { persistUsage } from './persist.ts';
import { redis } from './redis.ts';

// The persistence consumer: its own process, as many instances as needed (one consumer group).
const log = createLogger({ name: 'analytics-consumer', level: env.LOG_LEVEL });
// Its batch insert skips Prisma (persist.ts).
const persistPool = createPgPool(env.DATABASE_URL, dbSchema, log);
const bus = createEventBus({ redis, kafkaBrokers: env.KAFKA_BROKERS, clientId: `analytics-${hostname()}-${process.pid}`, log });

const subscription = await bus.consume({
  group: 'analytics-persistence',
  consumer: `${hostname()}-${process.pid}`,
  domains: ['usage'],
  batchSize: env.CONSUMER_BATCH_SIZE,
  handler: async (events) => {
    const started = performance.now();
    await persistUsage(persistPool, events);
    log.debug({ events: events.length, durationMs: Math.round(performance.now() - started) }, 'usage persisted');
  },
});

const handleHealth = createHealthRoutes('analytics-consumer', { postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() });
const health = createServer(async (req, res) => {
  if (!(await handleHealth(req, res, new URL(req.url ?? '/', 'http://consumer').pathname))) sendJson(res, 404, { error: 'not found' });
});
await listen(health, env.CONSUMER_HEALTH_PORT, env.ANALYTICS_HOST);
log.info({ transport: bus.transport, healthPort: env.CONSUMER_HEALTH_PORT }, 'analytics consumer ready');

onShutdown(log, async () => {
  await subscription.stop();
  await closeServer(health);
  await bus.close();
  await Promise.all([prisma.$disconnect(), persistPool.end(), redis.quit()]);
});
