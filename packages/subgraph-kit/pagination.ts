import { resolveCursorConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { badUserInput } from '@mindweave/errors';
import { uuidSchema } from './ids.ts';

// Every connection pages the same way: Relay's connection types and PageInfo (@pothos/plugin-relay,
// set up in builder.ts), keyset pagination, and one cursor format: the row's sort keys as a
// base64url JSON array. A cursor outlives the row it names, so a page never ends early because
// that row was deleted meanwhile.

export type CursorKey = string | number | Date;
export type PageInfo = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
export type Page<T> = { edges: { cursor: string; node: T }[]; pageInfo: PageInfo };
/** The arguments every connection field takes (the contract's `first: Int = 20, after: String`). */
export type ConnectionArgs = { first?: number | null; after?: string | null };

/** The page sizes every connection accepts; BAD_USER_INPUT naming `first` otherwise. */
export const pageSize = z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish();
export const defaultPageSize = 20;
/** The cost directives' list size of a connection field: `first` edges. */
export const connectionListSize = { slicingArguments: ['first'], sizedFields: ['edges'], requireOneSlicingArgument: false };

export const encodeCursor = (keys: readonly CursorKey[]) =>
  Buffer.from(JSON.stringify(keys.map((key) => (key instanceof Date ? key.toISOString() : key)))).toString('base64url');

/** The sort keys `cursor` holds, as `keys` reads them; BAD_USER_INPUT naming `after` for anything that is not a cursor of such a list. */
export function decodeCursor<T>(cursor: string, keys: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = keys.safeParse(parsed);
  if (!result.success) throw badUserInput('after: is not a cursor of this list', 'after');
  return result.data;
}

const date = z.iso.datetime().transform((text) => new Date(text));

/** Rows ordered newest first by (createdAt, id): audit logs, delivery logs, listings. */
export type Keyed = { createdAt: Date; id: string };
export const newestFirst = {
  keys: z.tuple([date, uuidSchema]).transform(([createdAt, id]): Keyed => ({ createdAt, id })),
  cursor: (row: Keyed) => encodeCursor([row.createdAt, row.id]),
  orderBy: [{ createdAt: 'desc' as const }, { id: 'desc' as const }],
  /** The Prisma condition for rows after `after` in that order (ties broken by id, so pages never overlap). */
  after: (after: Keyed) => ({ OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }),
};

/**
 * A page of a keyset-paginated list: `load` reads up to `limit` rows (one more than the page, so
 * that the extra row tells whether a next page exists) in the list's order, after the position
 * `after` names. Pothos' resolveCursorConnection makes the edges and PageInfo.
 */
export async function keysetConnection<Row extends Sorted, Sorted, Position>(
  args: ConnectionArgs,
  list: { keys: z.ZodType<Position>; cursor: (row: Sorted) => string },
  load: (window: { after: Position | null; limit: number }) => Promise<Row[]>,
): Promise<Page<Row>> {
  const after = args.after ? decodeCursor(args.after, list.keys) : null;
  const page = await resolveCursorConnection<Promise<readonly unknown[]>>(
    {
      args: { first: args.first ?? defaultPageSize, after: args.after ?? null },
      toCursor: (row) => list.cursor(row as Sorted),
      defaultSize: defaultPageSize,
      maxSize: 100,
    },
    ({ limit }): Promise<readonly unknown[]> => load({ after, limit }),
  );
  const edges = page.edges.map((edge) => ({ cursor: edge.cursor, node: edge.node as Row }));
  const { hasNextPage, hasPreviousPage } = page.pageInfo;
  // An empty page has no cursors (resolveCursorConnection would repeat `after`).
  return {
    edges,
    pageInfo: { hasNextPage, hasPreviousPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
  };
}
