import { join } from 'node:path';
import { createLogger, onShutdown, packageRoot } from '@mindweave/service-kit';
import { migrate, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { bus } from './bus.ts';
import { dbSchema, prisma } from './db.ts';
import { createDownloadRoute } from './download.ts';
import { env } from './env.ts';
import { jobsConnection, producers } from './jobs.ts';
import { memberships } from './memberships.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';
import { createLocalStorage } from './storage.ts';

// Export jobs are requested and served here; the workers write the files (run.ts).
const log = createLogger({ name: 'exports', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

const download = createDownloadRoute({
  secret: env.EXPORTS_URL_SECRET ?? env.INTERNAL_SIGNING_SECRET,
  storage: createLocalStorage(env.EXPORTS_DIR),
  find: (id) => prisma.exportJob.findUnique({ where: { id }, select: { status: true, fileKey: true, format: true } }),
});

const { close } = await startSubgraphServer({
  name: 'exports',
  port: env.EXPORTS_PORT,
  host: env.EXPORTS_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  // Without Redis only requesting an export fails (UNAVAILABLE); jobs and downloads are served.
  optionalHealthChecks: { redis: () => jobsConnection.ping() },
  routes: [download],
});

// export.completed, written by the workers with a job's final status.
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log });

// A member removed or given another role: their cached memberships go as soon as the event arrives.
const membershipChanges = memberships.followChanges(bus, log);

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await membershipChanges.stop();
  await bus.close();
  await producers.close();
  await Promise.all([prisma.$disconnect(), redis.quit(), jobsConnection.quit()]);
});
