import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { errorBody, unauthenticated } from '@mindweave/errors';
import { createLogger, onShutdown, sendJson, verifyIdentity } from '@mindweave/service-kit';
import { migrate, startOutboxRelay, startSubgraphServer, type ExtraRoute } from '@mindweave/subgraph-kit';
import { isUuid } from './access.ts';
import { bus } from './bus.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'governance', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: fileURLToPath(new URL('./migrations', import.meta.url)), log });

async function readJson(req: IncomingMessage, limit = 4096): Promise<unknown> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('body too large');
  }
  return JSON.parse(body);
}

/**
 * The usage subgraph's policy cache loads an organization's policies here (enabled and disabled,
 * as @mindweave/policy-engine's PolicyRecord); only requests signed as a service are answered.
 */
const policiesRoute: ExtraRoute = async (req, res, url) => {
  if (req.method !== 'POST' || url.pathname !== '/internal/policies') return false;
  const caller = verifyIdentity(env.INTERNAL_SIGNING_SECRET, { get: (name) => (req.headers[name] as string | undefined) ?? null });
  if (caller?.identity.kind !== 'service') {
    sendJson(res, 401, errorBody(unauthenticated('Only services may ask')));
    return true;
  }
  const body = (await readJson(req).catch(() => ({}))) as { organizationId?: unknown };
  if (typeof body.organizationId !== 'string' || !isUuid(body.organizationId)) {
    sendJson(res, 400, { error: 'organizationId must be a UUID' });
    return true;
  }
  const policies = await prisma.policy.findMany({
    where: { organizationId: body.organizationId },
    select: { id: true, name: true, type: true, rules: true, enabled: true, enforcing: true },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  sendJson(res, 200, { policies });
  return true;
};

const { close } = await startSubgraphServer({
  name: 'governance',
  port: env.GOVERNANCE_PORT,
  host: env.GOVERNANCE_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() },
  routes: [policiesRoute],
});

// policy.changed: the usage path's policy caches drop the organization's entry.
const relay = startOutboxRelay({ databaseUrl: env.DATABASE_URL, schema: dbSchema, bus, log, intervalMs: 200 });

onShutdown(log, async () => {
  await close();
  await relay.stop();
  await bus.close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
