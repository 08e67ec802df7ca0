import { z } from 'zod';
import { encodeCursor, uuidSchema } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { Prisma } from './generated/prisma/client.ts';

type Db = Prisma.TransactionClient | typeof prisma;

/**
 * Rewrites a server's search vector from its name, description and the tool names of its latest
 * version (mcp_server_search_vector in the migrations holds the weights). Run it in the
 * transaction that changes any of them.
 */
export async function refreshSearchVector(db: Db, serverId: string) {
  await db.$executeRaw`
    UPDATE mcp_registry.mcp_servers s
    SET "searchVector" = mcp_registry.mcp_server_search_vector(
      s.name,
      coalesce((SELECT string_agg(t.name, ' ' ORDER BY t.position) FROM mcp_registry.mcp_tools t WHERE t."versionId" = s."latestVersionId"), ''),
      s.description)
    WHERE s.id = ${serverId}::uuid`;
}

/** Search results, best ranked first, then newest: a cursor holds the row's (rank, createdAt, id). */
export type Ranked = { rank: number; createdAt: Date; id: string };
export const bestMatchFirst = {
  keys: z
    .tuple([z.number().finite(), z.iso.datetime().transform((text) => new Date(text)), uuidSchema])
    .transform(([rank, createdAt, id]): Ranked => ({ rank, createdAt, id })),
  cursor: (row: Ranked) => encodeCursor([row.rank, row.createdAt, row.id]),
};

export interface SearchOptions {
  /** websearch_to_tsquery syntax: words, "quoted phrases", `or`, `-excluded`. */
  search: string;
  /** Rows to read: a page and one more. */
  limit: number;
  after: Ranked | null;
  /** Organizations whose private servers the caller may see; public servers are always visible. */
  visibleOrganizationIds: string[];
}

export type Hit = Ranked;

/**
 * Up to `limit` servers matching `search`, best ranked first (then newest), and how many match in all. The GIN index on "searchVector" finds the matches; ts_rank
 * weighs them by where the words were found (name, tool names, description). Every match is ranked
 * to sort them anyway, so they are counted from the same scan, in the same statement.
 */
export async function searchServers(options: SearchOptions): Promise<{ hits: Hit[]; totalCount: number }> {
  const { search, limit, after, visibleOrganizationIds } = options;
  const startAfter = after
    ? Prisma.sql`WHERE (m.rank, m."createdAt", m.id) < (${after.rank}::float8, ${after.createdAt.toISOString()}::timestamp, ${after.id}::uuid)`
    : Prisma.empty;
  const rows = await prisma.$queryRaw<(Hit & { total: number })[]>`
    WITH matches AS MATERIALIZED (
      SELECT s.id, s."createdAt", ts_rank(s."searchVector", q)::float8 AS rank
      FROM mcp_registry.mcp_servers s, websearch_to_tsquery('english', ${search}) q
      WHERE s."searchVector" @@ q
        AND (s.visibility = 'PUBLIC' OR s."organizationId" = ANY(${visibleOrganizationIds}::uuid[]))
    )
    SELECT (SELECT count(*)::int FROM matches) AS total, page.*
    FROM (SELECT 1) AS always_one_row
    LEFT JOIN LATERAL (
      SELECT m.id, m."createdAt", m.rank FROM matches m ${startAfter}
      ORDER BY m.rank DESC, m."createdAt" DESC, m.id DESC
      LIMIT ${limit}
    ) AS page ON true`;
  const hits = rows.filter((row) => row.id !== null).map(({ id, createdAt, rank }) => ({ id, createdAt, rank }));
  return { hits, totalCount: rows[0]?.total ?? 0 };
}
