import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, keysetConnection, newestFirst } from './pagination.ts';

const row = (n: number) => ({ id: `00000000-0000-4000-8000-00000000000${n}`, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)) });

describe('cursor pagination', () => {
  it('round-trips a cursor, and refuses anything else with BAD_USER_INPUT naming `after`', () => {
    expect(decodeCursor(newestFirst.cursor(row(3)), newestFirst.keys)).toEqual(row(3));
    // The format audit-log cursors always had: their cursors still work.
    expect(newestFirst.cursor(row(3))).toBe(Buffer.from(JSON.stringify([row(3).createdAt.toISOString(), row(3).id])).toString('base64url'));
    const otherList = encodeCursor([0.5, row(3).createdAt, row(3).id]);
    for (const bad of [
      '',
      'not-a-cursor',
      Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString('base64url'),
      otherList,
      Buffer.from('2026-01-01T00:00:00.000Z|x').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad, newestFirst.keys)).toThrow(
        expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }),
      );
    }
  });

  it('pages from first + 1 rows: the extra row says there is a next page, and is not shown', async () => {
    const rows = [row(5), row(4), row(3)];
    const read = (limit: number) => Promise.resolve(rows.slice(0, limit));
    expect(await keysetConnection({ first: 2 }, newestFirst, ({ limit }) => read(limit))).toEqual({
      edges: [
        { cursor: newestFirst.cursor(row(5)), node: row(5) },
        { cursor: newestFirst.cursor(row(4)), node: row(4) },
      ],
      pageInfo: {
        hasNextPage: true,
        hasPreviousPage: false,
        startCursor: newestFirst.cursor(row(5)),
        endCursor: newestFirst.cursor(row(4)),
      },
    });
    const last = await keysetConnection({ first: 3 }, newestFirst, ({ limit }) => read(limit));
    expect(last.pageInfo).toMatchObject({ hasNextPage: false, endCursor: newestFirst.cursor(row(3)) });
    const empty = await keysetConnection({ first: 3, after: newestFirst.cursor(row(3)) }, newestFirst, () => Promise.resolve([]));
    expect(empty).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null } });
  });

  it('hands the loader the decoded position and one row more than the page (20 by default)', async () => {
    const seen: unknown[] = [];
    await keysetConnection({ after: newestFirst.cursor(row(4)) }, newestFirst, (window) => {
      seen.push(window);
      return Promise.resolve([]);
    });
    expect(seen).toEqual([{ after: row(4), limit: 21 }]);
  });

  it('continues after a cursor, ties on time broken by id', () => {
    const after = row(4);
    expect(newestFirst.after(after)).toEqual({
      OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
    });
  });
});
