import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import type { Keyed, SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { Prisma, type WebhookDelivery } from './generated/prisma/client.ts';

type Window = { after: Keyed | null; limit: number };

/**
 * One page of each endpoint's delivery log, newest first, for every endpoint a request lists
 * (`webhookEndpoints { deliveries }`) in one statement: a LATERAL join walks the
 * (endpointId, createdAt DESC, id DESC) index once per endpoint. Loaders are per request and per
 * window, since every endpoint of a list is paged with the same arguments.
 */
export const deliveryPages = (ctx: SubgraphContext, window: Window) => {
  const key = `${window.limit}:${window.after ? `${window.after.createdAt.toISOString()}/${window.after.id}` : ''}`;
  const loaders = loadersOf(ctx);
  let loader = loaders.get(key);
  if (!loader) {
    loader = new DataLoader<string, WebhookDelivery[]>((endpointIds) => readPages(endpointIds, window));
    loaders.set(key, loader);
  }
  return loader;
};

const loadersOf = createContextCache((_ctx: SubgraphContext) => new Map<string, DataLoader<string, WebhookDelivery[]>>());

async function readPages(endpointIds: readonly string[], { after, limit }: Window): Promise<WebhookDelivery[][]> {
  const startAfter = after ? Prisma.sql`AND (d."createdAt", d.id) < (${after.createdAt}::timestamp, ${after.id}::uuid)` : Prisma.empty;
  const rows = await prisma.$queryRaw<WebhookDelivery[]>`
    SELECT d.id, d."endpointId", d."eventId", d."eventType", d.attempt, d.status::text AS status, d."httpStatus", d."latencyMs",
           d."responseExcerpt", d.error, d."createdAt"
    FROM unnest(${endpointIds}::uuid[]) AS e(id)
    CROSS JOIN LATERAL (
      SELECT * FROM webhook_deliveries d WHERE d."endpointId" = e.id ${startAfter}
      ORDER BY d."createdAt" DESC, d.id DESC LIMIT ${limit}
    ) d
    ORDER BY d."endpointId", d."createdAt" DESC, d.id DESC`;
  const byEndpoint = new Map<string, WebhookDelivery[]>();
  for (const row of rows) {
    const page = byEndpoint.get(row.endpointId);
    if (page) page.push(row);
    else byEndpoint.set(row.endpointId, [row]);
  }
  return endpointIds.map((id) => byEndpoint.get(id) ?? []);
}
