import { fileURLToPath } from 'node:url';
import { createLogger, onShutdown } from '@mindweave/service-kit';
import { migrate, startSubgraphServer } from '@mindweave/subgraph-kit';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { schema } from './schema/index.ts';
import { resealSigningSecrets } from './signing-secrets.ts';

// Endpoints are managed here; deliveries are made (and logged) by the workers.
const log = createLogger({ name: 'webhooks', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: fileURLToPath(new URL('./migrations', import.meta.url)), log });

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
  await prisma.$disconnect();
});
