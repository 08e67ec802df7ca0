import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { dropDatabase, ensureDatabase } from '../../scripts/stack.ts';
import { resolveBaseline } from './check.ts';
import { compose, repoRoot } from './compose.ts';
import { publishSupergraph } from './publish.ts';
import { latestPublishedVersion } from './registry.ts';

// A database of its own: routers of the test stack may read the stack database's registry.
const databaseUrl = `${inject('stack').databaseUrl}_registry_${randomBytes(3).toString('hex')}`;
beforeAll(() => ensureDatabase(databaseUrl));
afterAll(() => dropDatabase(databaseUrl));

const link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])';
async function supergraphOf(fields: string) {
  const subgraphs = { catalog: `${link}\ntype Query { product(id: ID!): Product }\ntype Product @key(fields: "id") { id: ID! ${fields} }` };
  const composition = await compose(
    [{ name: 'catalog', routingUrl: 'http://catalog/graphql', schemaFile: 'catalog.graphql' }],
    async () => subgraphs.catalog,
  );
  if (!composition.ok) throw new Error(composition.errors.join('\n'));
  return { supergraphSdl: composition.supergraphSdl, subgraphs };
}
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the schema registry', () => {
  it('has no latest version before anything is published', async () => {
    expect(await latestPublishedVersion(databaseUrl)).toBeNull();
  });

  it('records versions with their changes, and publishing the same supergraph again is a no-op', async () => {
    const first = await supergraphOf('name: String! price: Int!');
    const v1 = await publishSupergraph({ databaseUrl, ...first, author: 'ana@example.com' });
    expect(v1).toMatchObject({ published: true, hash: sha256(first.supergraphSdl), previousId: null, changes: [] });
    expect(await latestPublishedVersion(databaseUrl)).toEqual({ id: v1.id, hash: v1.hash, supergraph: first.supergraphSdl });

    const again = await publishSupergraph({ databaseUrl, ...first, author: 'bo@example.com' });
    expect(again).toMatchObject({ published: false, id: v1.id, latestId: v1.id });

    const second = await supergraphOf('name: String! sku: String');
    const v2 = await publishSupergraph({ databaseUrl, ...second, author: 'bo@example.com' });
    if (!v2.published) throw new Error('v2 was not published');
    expect(v2.id).toBeGreaterThan(v1.id);
    expect(v2.previousId).toBe(v1.id);
    expect(v2.changes.map((c) => [c.type, c.path, c.criticality])).toEqual([
      ['FIELD_REMOVED', 'Product.price', 'BREAKING'],
      ['FIELD_ADDED', 'Product.sku', 'NON_BREAKING'],
    ]);
    expect(await latestPublishedVersion(databaseUrl)).toEqual({
      id: v2.id,
      hash: sha256(second.supergraphSdl),
      supergraph: second.supergraphSdl,
    });

    // Republishing an older supergraph does not make it the latest again.
    expect(await publishSupergraph({ databaseUrl, ...first, author: 'ana@example.com' })).toMatchObject({
      published: false,
      id: v1.id,
      latestId: v2.id,
    });

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const rows = (
      await client.query('SELECT id, hash, supergraph, subgraphs, author, created_at, changes FROM schema_registry.versions ORDER BY id')
    ).rows;
    await client.end();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ id: v2.id, subgraphs: second.subgraphs, author: 'bo@example.com', created_at: expect.any(Date) });
    expect(rows[1].changes[0]).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f]{64}$/),
      type: 'FIELD_REMOVED',
      message: "Field 'price' was removed from object type 'Product'",
    });
  });

  it('serialises concurrent publishers, so that each version diffs against its predecessor', async () => {
    const candidates = await Promise.all(['a: Int', 'b: Int', 'c: Int'].map((field) => supergraphOf(`name: String! sku: String ${field}`)));
    const results = await Promise.all(candidates.map((c) => publishSupergraph({ databaseUrl, ...c, author: 'ci' })));
    const ids = results.map((r) => r.id).sort((x, y) => x - y);
    const previous = results.filter((r) => r.published).map((r) => (r.published ? r.previousId : null));
    expect(new Set(previous).size).toBe(3);
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);
  });

  it("is the schema check's baseline when DATABASE_URL reaches it, the committed supergraph otherwise", async () => {
    const latest = (await latestPublishedVersion(databaseUrl))!;
    const fromRegistry = await resolveBaseline({ databaseUrl, gitRef: 'HEAD', root: repoRoot });
    expect(fromRegistry).toMatchObject({
      source: 'registry',
      description: `registry version ${latest.id} (${latest.hash.slice(0, 12)})`,
      supergraphSdl: latest.supergraph,
    });

    const unreachable = await resolveBaseline({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/none', gitRef: 'HEAD', root: repoRoot });
    expect(unreachable.source).toBe('git');
    expect(unreachable.notes.join()).toContain('could not be read');
  });
});
