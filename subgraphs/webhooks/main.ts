import { join } from 'node:path';
import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger, createRedis, kafkaSettingsOf, onShutdown, packageRoot } from '@mindweave/service-kit';
import { migrate, startSubgraphServer } from '@mindweave/subgraph-kit';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { memberships } from './memberships.ts';
import { schema } from './schema/index.ts';
import { resealSigningSecrets } from './signing-secrets.ts';

// Endpoints are managed here; deliveries are made (and logged) by the workers.
const log = createLogger({ name: 'webhooks', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

// A member removed or given another role: their cached memberships go as soon as the event arrives.
const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `webhooks-${hostname()}-${process.pid}`, log });
const membershipChanges = memberships.followChanges(bus, log);

const { close } = await startSubgraphServer({
  name: 'webhooks',
  port: env.WEBHOOKS_PORT,
  host: env.WEBHOOKS_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
});

// Secrets stored in clear by an older version, or sealed with a key since rotated out of first
// place: resealed while serving, since both kinds open as they are.
void resealSigningSecrets(log).catch((error: unknown) => log.warn({ err: error }, 'secrets not resealed; the next start tries again'));

onShutdown(log, async () => {
  await close();
  await membershipChanges.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
