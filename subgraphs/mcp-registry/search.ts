import { badUserInput } from '@mindweave/errors';
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

/** Where a page starts: after these sort keys. A search ranks first; the newest come first otherwise. */
export type Cursor = { kind: 'newest'; createdAt: Date; id: string } | { kind: 'search'; rank: number; createdAt: Date; id: string };

export function encodeCursor(cursor: Cursor): string {
  const keys = cursor.kind === 'search' ? ['s', cursor.rank, cursor.createdAt.toISOString(), cursor.id] : ['n', cursor.createdAt.toISOString(), cursor.id];
  return Buffer.from(JSON.stringify(keys)).toString('base64url');
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor's keys, or BAD_USER_INPUT naming `after` when it is not one of ours or not of this kind of listing. */
export function decodeCursor(value: string, kind: Cursor['kind']): Cursor {
  let keys: unknown;
  try {
    keys = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    keys = null;
  }
  const invalid = () => badUserInput(`after: is not a cursor of this ${kind === 'search' ? 'search' : 'listing'}`, 'after');
  if (!Array.isArray(keys)) throw invalid();
  const [tag, ...rest] = keys as unknown[];
  const [rank, createdAtText, id] = tag === 's' && kind === 'search' ? rest : tag === 'n' && kind === 'newest' ? [0, ...rest] : [];
  const createdAt = typeof createdAtText === 'string' ? new Date(createdAtText) : new Date(Number.NaN);
  if (typeof rank !== 'number' || !Number.isFinite(rank) || Number.isNaN(createdAt.getTime()) || typeof id !== 'string' || !uuidPattern.test(id)) throw invalid();
  return kind === 'search' ? { kind, rank, createdAt, id } : { kind, createdAt, id };
}

export interface SearchOptions {
  /** websearch_to_tsquery syntax: words, "quoted phrases", `or`, `-excluded`. */
  search: string;
  first: number;
  after: Cursor | null;
  /** Organizations whose private servers the caller may see; public servers are always visible. */
  visibleOrganizationIds: string[];
}

export type Hit = { id: string; createdAt: Date; rank: number };

/**
 * One page of servers matching `search`, best ranked first (then newest), whether a next page
 * exists, and how many match in all. The GIN index on "searchVector" finds the matches; ts_rank
 * weighs them by where the words were found (name, tool names, description). Every match is ranked
 * to sort them anyway, so they are counted from the same scan, in the same statement.
 */
export async function searchServers(options: SearchOptions): Promise<{ hits: Hit[]; hasNextPage: boolean; totalCount: number }> {
  const { search, first, after, visibleOrganizationIds } = options;
  const startAfter = after?.kind === 'search' ? Prisma.sql`WHERE (m.rank, m."createdAt", m.id) < (${after.rank}::float8, ${after.createdAt.toISOString()}::timestamp, ${after.id}::uuid)` : Prisma.empty;
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
      LIMIT ${first + 1}
    ) AS page ON true`;
  const hits = rows.filter((row) => row.id !== null).map(({ id, createdAt, rank }) => ({ id, createdAt, rank }));
  return { hits: hits.slice(0, first), hasNextPage: hits.length > first, totalCount: rows[0]?.total ?? 0 };
}
