import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { errorBody, unauthenticated } from '@mindweave/errors';
import { createLogger, onShutdown, sendJson, verifyIdentity } from '@mindweave/service-kit';
import { migrate, startSubgraphServer, type ExtraRoute } from '@mindweave/subgraph-kit';
import { isUuid } from './access.ts';
import { verifyApiKey } from './api-keys.ts';
import { dbSchema, prisma } from './db.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';
import { schema } from './schema/index.ts';

const log = createLogger({ name: 'accounts', level: env.LOG_LEVEL });

await migrate({ databaseUrl: env.DATABASE_URL, schema: dbSchema, directory: fileURLToPath(new URL('./migrations', import.meta.url)), log });

async function readJson(req: IncomingMessage, limit = 4096): Promise<unknown> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('body too large');
  }
  return JSON.parse(body);
}

/** The router resolves API keys here; only the router's signed requests are answered. */
const verifyApiKeyRoute: ExtraRoute = async (req, res, url) => {
  if (req.method !== 'POST' || url.pathname !== '/internal/api-keys/verify') return false;
  const caller = verifyIdentity(env.INTERNAL_SIGNING_SECRET, { get: (name) => (req.headers[name] as string | undefined) ?? null });
  if (caller?.identity.kind !== 'service') {
    sendJson(res, 401, errorBody(unauthenticated('Requests must come through the router')));
    return true;
  }
  const body = (await readJson(req).catch(() => ({}))) as { key?: unknown };
  const verified = typeof body.key === 'string' ? await verifyApiKey(body.key) : null;
  sendJson(res, verified ? 200 : 404, verified ?? { error: 'unknown or revoked key' });
  return true;
};

/** Other subgraphs ask here which organizations a user belongs to (packages/subgraph-kit/memberships.ts). */
const membershipsRoute: ExtraRoute = async (req, res, url) => {
  if (req.method !== 'POST' || url.pathname !== '/internal/memberships') return false;
  const caller = verifyIdentity(env.INTERNAL_SIGNING_SECRET, { get: (name) => (req.headers[name] as string | undefined) ?? null });
  if (caller?.identity.kind !== 'service') {
    sendJson(res, 401, errorBody(unauthenticated('Only services may ask')));
    return true;
  }
  const body = (await readJson(req).catch(() => ({}))) as { userId?: unknown };
  const userId = typeof body.userId === 'string' && isUuid(body.userId) ? body.userId : null;
  const memberships = userId ? await prisma.membership.findMany({ where: { userId }, select: { organizationId: true, role: true } }) : [];
  sendJson(res, 200, { memberships });
  return true;
};

/** The workers ask here for an organization's plan and members (quota alerts, notices). */
const organizationsRoute: ExtraRoute = async (req, res, url) => {
  if (req.method !== 'POST' || url.pathname !== '/internal/organizations') return false;
  const caller = verifyIdentity(env.INTERNAL_SIGNING_SECRET, { get: (name) => (req.headers[name] as string | undefined) ?? null });
  if (caller?.identity.kind !== 'service') {
    sendJson(res, 401, errorBody(unauthenticated('Only services may ask')));
    return true;
  }
  const body = (await readJson(req).catch(() => ({}))) as { organizationId?: unknown };
  const organizationId = typeof body.organizationId === 'string' && isUuid(body.organizationId) ? body.organizationId : null;
  const organization = organizationId
    ? await prisma.organization.findUnique({
        where: { id: organizationId },
        select: { id: true, name: true, plan: true, memberships: { select: { userId: true, role: true }, orderBy: { createdAt: 'asc' } } },
      })
    : null;
  if (!organization) sendJson(res, 404, { error: 'unknown organization' });
  else sendJson(res, 200, { id: organization.id, name: organization.name, plan: organization.plan, members: organization.memberships });
  return true;
};

const { close } = await startSubgraphServer({
  name: 'accounts',
  port: env.ACCOUNTS_PORT,
  host: env.ACCOUNTS_HOST,
  schema,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  production: env.NODE_ENV === 'production',
  log,
  healthChecks: { postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() },
  routes: [verifyApiKeyRoute, membershipsRoute, organizationsRoute],
});

onShutdown(log, async () => {
  await close();
  await Promise.all([prisma.$disconnect(), redis.quit()]);
});
