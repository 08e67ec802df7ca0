import { z } from 'zod';
import { badUserInput } from '@mindweave/errors';

// Cursor pagination over rows ordered newest first by (createdAt, id): audit logs and the like.

type Keyed = { createdAt: Date; id: string };
export type Page<T> = { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

export const encodeCursor = (entry: Keyed) => Buffer.from(JSON.stringify([entry.createdAt.toISOString(), entry.id])).toString('base64url');

const cursorSchema = z.tuple([z.iso.datetime(), z.uuid()]);

/** The position `after` names; BAD_USER_INPUT for anything that is not a cursor of such a list. */
export function decodeCursor(cursor: string): Keyed {
  try {
    const [createdAt, id] = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { createdAt: new Date(createdAt), id };
  } catch {
    throw badUserInput('after: is not a cursor of this list', 'after');
  }
}

/** The Prisma condition for rows after `after` in newest-first order (ties broken by id, so pages never overlap). */
export const olderThan = (after: Keyed) => ({ OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] });

/** A page from `first + 1` rows read in that order: the extra row only tells whether there is a next page. */
export function pageOf<T extends Keyed>(rows: T[], first: number): Page<T> {
  const edges = rows.slice(0, first).map((node) => ({ cursor: encodeCursor(node), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
