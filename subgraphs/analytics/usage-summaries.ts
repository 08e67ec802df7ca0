import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { isUuid, type SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { Prisma } from './generated/prisma/client.ts';

export type Summary = { organizationId: string; from: Date; to: Date };
export type Totals = { requests: number; inputTokens: number; outputTokens: number; costUsd: number };
type ModelTotals = Totals & { organizationId: string; model: string };
type ProjectTotals = Totals & { organizationId: string; projectId: string };

/**
 * `Organization.usage` for every organization of a request (`me { memberships { organization {
 * usage { ... } } } }`) in one statement per field, instead of one per organization: loaders per
 * request and per period, since the organizations of a list share their arguments.
 */
export function usageLoaders(ctx: SubgraphContext, { from, to }: Summary) {
  const key = `${from.toISOString()}/${to.toISOString()}`;
  const cache = loadersOf(ctx);
  let loaders = cache.get(key);
  if (!loaders) {
    loaders = createLoaders(from, to);
    cache.set(key, loaders);
  }
  return loaders;
}

const loadersOf = createContextCache((_ctx: SubgraphContext) => new Map<string, ReturnType<typeof createLoaders>>());

const sums = Prisma.sql`sum(requests)::float8 AS requests, sum("inputTokens")::float8 AS "inputTokens", sum("outputTokens")::float8 AS "outputTokens", sum("costUsd")::float8 AS "costUsd"`;

function createLoaders(from: Date, to: Date) {
  const inPeriod = (ids: readonly string[]) =>
    Prisma.sql`"organizationId" = ANY(${ids.filter(isUuid)}::uuid[]) AND bucket >= ${from}::timestamp AND bucket < ${to}::timestamp`;
  const topModels = new Map<number, DataLoader<string, ModelTotals[]>>();
  return {
    totals: new DataLoader<string, Totals>(async (ids) => {
      const rows = await prisma.$queryRaw<(Totals & { organizationId: string })[]>`
        SELECT "organizationId"::text AS "organizationId", ${sums} FROM usage_minutes WHERE ${inPeriod(ids)} GROUP BY "organizationId"`;
      const byOrganization = new Map(rows.map((row) => [row.organizationId, row]));
      return ids.map((id) => {
        const row = byOrganization.get(id.toLowerCase());
        return row
          ? { requests: row.requests, inputTokens: row.inputTokens, outputTokens: row.outputTokens, costUsd: row.costUsd }
          : { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
      });
    }),
    /** The `limit` costliest models of each organization (then the most requested). */
    topModels: (limit: number) => {
      let loader = topModels.get(limit);
      if (!loader) {
        loader = new DataLoader<string, ModelTotals[]>(async (ids) =>
          groupBy(
            ids,
            await prisma.$queryRaw<ModelTotals[]>`
              SELECT "organizationId", model, requests, "inputTokens", "outputTokens", "costUsd" FROM (
                SELECT "organizationId"::text AS "organizationId", model, ${sums},
                       row_number() OVER (PARTITION BY "organizationId" ORDER BY sum("costUsd") DESC, sum(requests) DESC, model) AS position
                FROM usage_minutes WHERE ${inPeriod(ids)} GROUP BY "organizationId", model
              ) ranked
              WHERE position <= ${limit} ORDER BY "organizationId", position`,
          ),
        );
        topModels.set(limit, loader);
      }
      return loader;
    },
    costByProject: new DataLoader<string, ProjectTotals[]>(async (ids) =>
      groupBy(
        ids,
        await prisma.$queryRaw<ProjectTotals[]>`
          SELECT "organizationId"::text AS "organizationId", "projectId"::text AS "projectId", ${sums}
          FROM usage_minutes WHERE ${inPeriod(ids)} GROUP BY "organizationId", "projectId" ORDER BY "organizationId", sum("costUsd") DESC`,
      ),
    ),
  };
}

/** Rows handed back to their organization (uuids compare in lower case), in the order the statement returned them. */
function groupBy<T extends { organizationId: string }>(ids: readonly string[], rows: T[]): T[][] {
  const byOrganization = new Map<string, T[]>();
  for (const row of rows) {
    const list = byOrganization.get(row.organizationId);
    if (list) list.push(row);
    else byOrganization.set(row.organizationId, [row]);
  }
  return ids.map((id) => byOrganization.get(id.toLowerCase()) ?? []);
}
