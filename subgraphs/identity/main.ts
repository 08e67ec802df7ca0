import { join } from 'node:path';
import { createLogger, onShutdown, packageRoot, sendJson } from '@mindweave/service-kit';
import { isUuid, migrate, serviceRoute, startOutboxRelay, startSubgraphServer } from '@mindweave/subgraph-kit';
import { bus } from './bus.ts';
import { redis } from './redis.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { usersRoute } from './internal-routes.ts';
import { schema } from './schema/index.ts';
import { resealTotpSecrets } from './mfa.ts';
import { currentSigningKey, jwks, resealSigningKeys } from './tokens.ts';

const log = createLogger({ name: 'identity', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: join(packageRoot(import.meta.url), 'migrations'), log });

/** The workers ask here where to send a user's emails (quota alerts, export notices). */
const users = serviceRoute(usersRoute, env.INTERNAL_SIGNING_SECRET, async (body) => {
  const ids = body.ids.filter(isUuid).slice(0, 500);
  return {
    users: ids.length ? await prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, email: true, name: true } }) : [],
  };
});

// Create the signing key before serving, so the first JWKS a router fetches already holds it.
await currentSigningKey();

const { close } = await startSubgraphServer({
  name: 'identity',
  port: env.IDENTITY_PORT,
  host: env.IDENTITY_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1` },
  optionalHealthChecks: { redis: () => redis.ping() },
  routes: [
    // The public halves of the signing keys, for the router (and anyone) to verify access tokens.
    async (req, res, url) => {
      if (req.method !== 'GET' || url.pathname !== '/.well-known/jwks.json') return false;
      sendJson(res, 200, await jwks(), { 'cache-control': 'public, max-age=300' });
      return true;
    },
    users,
  ],
});

// user.created, user.password_reset...: the emails they trigger are sent by the workers.
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log, intervalMs: 200 });

// Secrets stored in clear by an older version, or sealed with a key since rotated out of first
// place: resealed while serving, since both kinds open as they are.
void Promise.all([resealSigningKeys(log), resealTotpSecrets(log)]).catch((error: unknown) =>
  log.warn({ err: error }, 'secrets not resealed; the next start tries again'),
);

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
