import { join } from 'node:path';
import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger, createRedis, kafkaSettingsOf, onShutdown, packageRoot } from '@mindweave/service-kit';
import { migrate, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { directory } from './access.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'mcp-registry', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

// mcp.server.published, written with each version.
const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `mcp-registry-${hostname()}-${process.pid}`, log });
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log });

// A member removed or given another role: their cached memberships go as soon as the event arrives.
const membershipChanges = directory.followChanges(bus, log);

const { close } = await startSubgraphServer({
  name: 'mcp-registry',
  port: env.MCP_REGISTRY_PORT,
  host: env.MCP_REGISTRY_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  optionalHealthChecks: { redis: () => redis.ping() },
});

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await membershipChanges.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
