import { hostname } from 'node:os';
import { createServer } from 'node:http';
import { observeConsumerLag } from '@mindweave/events';
import { closeServer, createHealthRoutes, createLogger, createServiceMetrics, listen, onShutdown, sendJson } from '@mindweave/service-kit';
import { recordViolations } from './audit.ts';
import { bus } from './bus.ts';
import { prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';

// The audit consumer: records the decisions the usage path reports (`policy.violated`) in the
// audit log. Its own process, as many instances as needed (one consumer group); idempotent by event id.
const log = createLogger({ name: 'governance-consumer', level: env.LOG_LEVEL });

const subscription = await bus.consume({
  group: 'governance-audit',
  consumer: `${hostname()}-${process.pid}`,
  domains: ['policy'],
  handler: async (events) => {
    const recorded = await recordViolations(events, log);
    if (recorded) log.debug({ events: events.length, recorded }, 'policy decisions recorded');
  },
});

const handleHealth = createHealthRoutes(
  'governance-consumer',
  { postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() },
  { details: async () => ({ consumers: await subscription.lag() }) },
);
const metrics = createServiceMetrics();
observeConsumerLag(metrics, subscription);
const health = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://consumer').pathname;
  if (!(await handleHealth(req, res, path)) && !(await metrics.handle(req, res, path))) sendJson(res, 404, { error: 'not found' });
});
await listen(health, env.GOVERNANCE_CONSUMER_HEALTH_PORT, env.GOVERNANCE_HOST);
log.info({ transport: bus.transport, healthPort: env.GOVERNANCE_CONSUMER_HEALTH_PORT }, 'governance consumer ready');

onShutdown(log, async () => {
  await subscription.stop();
  await closeServer(health);
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
