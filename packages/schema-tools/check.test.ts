import { describe, expect, it } from 'vitest';
import { changeId, checkSchema, formatCheckReport, manifestUsage, parseApprovals, type Approvals, type Baseline } from './check.ts';
import { apiSchemaOf, compose, type Composition } from './compose.ts';
import { createHash } from 'node:crypto';
import type { Traffic } from './usage.ts';

const link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])';
const products = (fields: string) => `${link}
type Query { product(id: ID!): Product products(filter: ProductFilter): [Product!]! }
input ProductFilter { name: String }
type Product @key(fields: "id") { id: ID! ${fields} }`;
const reviews = `${link}
type Review { id: ID! stars: Int! }
type Product @key(fields: "id") { id: ID! reviews: [Review!]! }`;
const original = products('name: String! price: Int!');

async function supergraph(productsSdl: string, reviewsSdl = reviews): Promise<Composition> {
  const sdl: Record<string, string> = { products: productsSdl, reviews: reviewsSdl };
  return compose(
    Object.keys(sdl).map((name) => ({ name, routingUrl: `http://${name}/graphql`, schemaFile: `${name}.graphql` })),
    async (config) => sdl[config.name]!,
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** A manifest as the SDK's codegen writes it. */
const manifestOf = (...documents: string[]) => Object.fromEntries(documents.map((d) => [sha256(d), d]));
const manifest = manifestOf(
  'query ProductPage($id: ID!) { product(id: $id) { id name price reviews { stars } } }',
  'query ProductNames { products { id name } }',
);

async function check(next: Composition, approvals: Approvals = {}, staleFiles: string[] = [], traffic?: Traffic, baseSdl = original) {
  const base = await supergraph(baseSdl);
  if (!base.ok) throw new Error(base.errors.join('\n'));
  const baseline: Baseline = { source: 'git', description: 'the test baseline', supergraphSdl: base.supergraphSdl, notes: [] };
  return checkSchema({ composition: next, staleFiles, baseline, manifest, approvals, ...(traffic ? { traffic } : {}) });
}

/** Operations as the registry returns them: one per operation and client. */
const recorded = (...uses: { name: string; client: string; coordinates: string[]; requests?: number }[]): Traffic => ({
  source: 'registry',
  days: 7,
  description: 'the test traffic',
  operations: uses.map((u) => ({
    hash: sha256(u.name),
    name: u.name,
    type: 'query',
    coordinates: u.coordinates,
    clientName: u.client,
    clientVersions: ['1.0'],
    requests: u.requests ?? 10,
    errors: 0,
    lastSeen: new Date(),
  })),
});

describe('schema check', () => {
  it('passes when a field is added, reporting it as safe', async () => {
    const report = await check(await supergraph(products('name: String! price: Int! sku: String')));
    expect(report.ok).toBe(true);
    expect(report.changes).toEqual([
      expect.objectContaining({ type: 'FIELD_ADDED', path: 'Product.sku', criticality: 'NON_BREAKING', operations: [] }),
    ]);
    expect(formatCheckReport(report)).toContain('Schema check passed.');
  });

  it('fails when a field an SDK operation uses is removed, naming the operation', async () => {
    const report = await check(await supergraph(products('name: String!')));
    expect(report.ok).toBe(false);
    const [removed] = report.changes;
    expect(removed).toMatchObject({
      type: 'FIELD_REMOVED',
      path: 'Product.price',
      criticality: 'BREAKING',
      operations: ['ProductPage'],
      blocked: 'not approved',
    });
    const text = formatCheckReport(report);
    expect(text).toContain("✖ BREAKING  Field 'price' was removed from object type 'Product'  [Product.price]");
    expect(text).toContain('breaks SDK operations: ProductPage');
    expect(text).toContain(`"${removed!.id}"`);
    expect(text).toMatch(/Schema check failed: 1 breaking change\(s\) without a valid approval\.\n$/);
  });

  it('still fails on a breaking change no SDK operation uses, without naming operations', async () => {
    const report = await check(
      await supergraph(original, reviews.replace('stars: Int!', 'stars: Int! title: String').replace('id: ID! stars', 'stars')),
    );
    const removed = report.changes.find((c) => c.type === 'FIELD_REMOVED');
    expect(removed).toMatchObject({ path: 'Review.id', operations: [], blocked: 'not approved' });
    expect(report.ok).toBe(false);
  });

  it('reports nullability changes: a nullable output is breaking, a required output is safe', async () => {
    const report = await check(await supergraph(products('name: String price: Int')));
    expect(report.changes.map((c) => [c.path, c.criticality, c.operations])).toEqual([
      ['Product.name', 'BREAKING', ['ProductPage', 'ProductNames']],
      ['Product.price', 'BREAKING', ['ProductPage']],
    ]);
    expect(report.changes[0]!.message).toBe("Field 'Product.name' changed type from 'String!' to 'String'");
    expect(report.ok).toBe(false);

    const stricter = await check(
      await supergraph(products('name: String! price: Int!').replace('ProductFilter { name: String }', 'ProductFilter { name: String! }')),
    );
    expect(stricter.changes).toEqual([expect.objectContaining({ path: 'ProductFilter.name', criticality: 'BREAKING', operations: [] })]);
  });

  it('fails on a composition error, with subgraph and location', async () => {
    const report = await check(
      await supergraph(
        original,
        reviews.replace('type Product @key(fields: "id") { id: ID!', 'type Product @key(fields: "id") { id: ID! price: String'),
      ),
    );
    expect(report.ok).toBe(false);
    expect(report.compositionErrors.join('\n')).toMatch(/Product\.price.*\(at (products|reviews):\d+:\d+/s);
    expect(formatCheckReport(report)).toContain('Composition failed:');
  });

  it('fails on stale committed files', async () => {
    const report = await check(await supergraph(original), {}, ['schema/products.graphql']);
    expect(report.ok).toBe(false);
    expect(report.problems.join()).toContain('schema/products.graphql');
  });

  it('passes an approved breaking change; one that breaks SDK operations only when the approval lists them', async () => {
    const next = await supergraph(products('name: String!'));
    const [removed] = (await check(next)).changes;
    const id = changeId(removed!);
    expect(id).toBe(removed!.id);

    const unlisted = await check(next, { [id]: { reason: 'price moved to offers', author: 'ana@example.com' } });
    expect(unlisted.ok).toBe(false);
    expect(unlisted.changes[0]!.blocked).toBe('the approval must list the SDK operations it breaks: ProductPage');

    const approved = await check(next, {
      [id]: { reason: 'price moved to offers', author: 'ana@example.com', operations: ['ProductPage'] },
    });
    expect(approved.ok).toBe(true);
    expect(approved.changes[0]).toMatchObject({ operations: ['ProductPage'], blocked: undefined });
    const text = formatCheckReport(approved);
    expect(text).toContain('breaks SDK operations: ProductPage');
    expect(text).toContain('approved by ana@example.com: price moved to offers');

    const unused = await check(await supergraph(original), { [id]: { reason: 'r', author: 'a' } });
    expect(unused.unusedApprovals).toEqual([id]);
  });

  it('has a JSON form', async () => {
    const report = JSON.parse(JSON.stringify(await check(await supergraph(products('name: String!')))));
    expect(report).toMatchObject({
      ok: false,
      baseline: { source: 'git' },
      changes: [{ path: 'Product.price', operations: ['ProductPage'] }],
    });
  });
});

describe('schema check with traffic', () => {
  const reviewsWithoutStars = reviews.replace('id: ID! stars: Int!', 'id: ID!');
  const starsReader = { name: 'Stars', client: 'web', coordinates: ['Query.product', 'Product.reviews', 'Review.stars'], requests: 42 };

  it('fails on removing a field a recorded operation uses, naming the operation, the client and its requests', async () => {
    const report = await check(
      await supergraph(original, reviewsWithoutStars),
      {},
      [],
      recorded(starsReader, { name: 'Names', client: 'cli', coordinates: ['Query.products', 'Product.name'] }),
    );
    expect(report.ok).toBe(false);
    const removed = report.changes.find((c) => c.path === 'Review.stars')!;
    expect(removed).toMatchObject({
      unused: false,
      traffic: [{ operation: 'Stars', client: 'web', clientVersions: ['1.0'], requests: 42 }],
    });
    expect(removed.blocked).toBe('not approved, and in use by 1 operation(s) of web (42 request(s))');
    const text = formatCheckReport(report);
    expect(text).toContain('Traffic: the test traffic; a breaking change nothing uses passes');
    expect(text).toContain(`Stars (${sha256('Stars').slice(0, 12)}) by web 1.0: 42 request(s)`);
    expect(text).not.toContain('by cli');
  });

  it('passes a breaking change that neither traffic nor the SDK uses', async () => {
    const reviewsWithoutId = reviews.replace('id: ID! stars: Int!', 'stars: Int!');
    const report = await check(
      await supergraph(original, reviewsWithoutId),
      {},
      [],
      recorded({ name: 'Names', client: 'cli', coordinates: ['Query.products', 'Product.name'] }),
    );
    expect(report.ok).toBe(true);
    expect(report.changes.find((c) => c.path === 'Review.id')).toMatchObject({
      criticality: 'BREAKING',
      unused: true,
      blocked: undefined,
      traffic: [],
    });
    expect(formatCheckReport(report)).toContain('unused: no SDK operation, and no operation recorded in the last 7 day(s), uses it');
  });

  it('keeps the SDK manifest as a source, and every breaking change blocked without traffic', async () => {
    const withTraffic = await check(await supergraph(products('name: String!')), {}, [], recorded());
    expect(withTraffic.changes[0]).toMatchObject({
      path: 'Product.price',
      operations: ['ProductPage'],
      unused: false,
      blocked: 'not approved',
    });
    const without = await check(await supergraph(original, reviews.replace('id: ID! stars: Int!', 'stars: Int!')));
    expect(without.changes.find((c) => c.path === 'Review.id')).toMatchObject({ unused: false, blocked: 'not approved' });
    expect(formatCheckReport(without)).toContain(
      'Checked without traffic: no traffic was asked for; every breaking change needs an approval',
    );
  });

  it('warns when a deprecated field is still used, naming who uses it', async () => {
    const deprecated = products('name: String! price: Int! @deprecated(reason: "use offers")');
    const report = await check(
      await supergraph(deprecated),
      {},
      [],
      recorded({ name: 'Prices', client: 'shop', coordinates: ['Product.price'], requests: 5 }),
      deprecated,
    );
    expect(report.ok).toBe(true);
    expect(report.deprecatedInUse).toEqual([
      {
        coordinate: 'Product.price',
        reason: 'use offers',
        operations: ['ProductPage'],
        traffic: [expect.objectContaining({ operation: 'Prices', client: 'shop', requests: 5 })],
      },
    ]);
    const text = formatCheckReport(report);
    expect(text).toContain('⚠ DEPRECATED Product.price is still used (use offers)');
    expect(text).toContain('by SDK operations: ProductPage');
    expect(text).toContain(`by Prices (${sha256('Prices').slice(0, 12)}) by shop 1.0: 5 request(s)`);
  });
});

describe('manifest usage', () => {
  it('collects selected fields, arguments and the input types sent, over the old schema', async () => {
    const composition = await supergraph(original);
    if (!composition.ok) throw new Error(composition.errors.join('\n'));
    const [usage] = manifestUsage(
      manifestOf('query Search($f: ProductFilter) { products(filter: $f) { ... on Product { name } } }'),
      apiSchemaOf(composition.supergraphSdl),
    );
    expect(usage!.name).toBe('Search');
    expect([...usage!.coordinates].sort()).toEqual(
      [
        'Product',
        'Product.name',
        'ProductFilter',
        'ProductFilter.name',
        'Query',
        'Query.products',
        'Query.products.filter',
        'String',
      ].sort(),
    );
  });

  it('names the SDK operations a dangerous change may affect', async () => {
    const report = await check(
      await supergraph(
        original
          .replace('input ProductFilter { name: String }', 'input ProductFilter { name: String }\nenum Sort { NAME }')
          .replace('products(filter: ProductFilter)', 'products(filter: ProductFilter, sort: Sort)'),
      ),
    );
    const added = report.changes.find((c) => c.type === 'FIELD_ARGUMENT_ADDED');
    expect(added).toMatchObject({ path: 'Query.products.sort', criticality: 'DANGEROUS', operations: ['ProductNames'] });
    expect(report.ok).toBe(true);
    expect(formatCheckReport(report)).toContain('may affect SDK operations: ProductNames');
  });

  it('flags a required argument added to a field an operation uses', async () => {
    const report = await check(
      await supergraph(original.replace('products(filter: ProductFilter)', 'products(filter: ProductFilter, first: Int!)')),
    );
    expect(report.changes).toEqual([
      expect.objectContaining({ path: 'Query.products.first', criticality: 'BREAKING', operations: ['ProductNames'] }),
    ]);
  });
});

describe('approvals file', () => {
  it('is validated entry by entry', () => {
    expect(parseApprovals('{}')).toEqual({});
    expect(() => parseApprovals(JSON.stringify({ nope: { reason: '' } }))).toThrow(
      /nope: the key must be a change id[\s\S]*"reason" is required[\s\S]*"author" is required/,
    );
  });
});
