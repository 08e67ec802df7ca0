import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, olderThan, pageOf } from './pagination.ts';

const row = (n: number) => ({ id: `00000000-0000-4000-8000-00000000000${n}`, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)) });

describe('cursor pagination', () => {
  it('round-trips a cursor, and refuses anything else with BAD_USER_INPUT naming `after`', () => {
    expect(decodeCursor(encodeCursor(row(3)))).toEqual(row(3));
    for (const bad of ['', 'not-a-cursor', Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }));
    }
  });

  it('pages from first + 1 rows: the extra row says there is a next page, and is not shown', () => {
    const rows = [row(5), row(4), row(3)];
    expect(pageOf(rows, 2)).toEqual({ edges: [{ cursor: encodeCursor(row(5)), node: row(5) }, { cursor: encodeCursor(row(4)), node: row(4) }], pageInfo: { hasNextPage: true, endCursor: encodeCursor(row(4)) } });
    expect(pageOf(rows, 3).pageInfo).toEqual({ hasNextPage: false, endCursor: encodeCursor(row(3)) });
    expect(pageOf([], 3)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('continues after a cursor, ties on time broken by id', () => {
    const after = row(4);
    expect(olderThan(after)).toEqual({ OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] });
  });
});
