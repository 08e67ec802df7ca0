import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { supergraphDirectives } from './fixtures/edge-schema.ts';
import { analyzeOperation, authorize, actualCost, CostError, estimateCost, type AnalyzedOperation } from './operation.ts';
import { indexSupergraph } from './schema-index.ts';

const { print } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

// A schema written with the directives as composition leaves them in a supergraph.
const index = indexSupergraph(`${supergraphDirectives}
  type Query {
    me: User
    users(first: Int = 5, last: Int): [User!]! @listSize(slicingArguments: ["first", "last"], requireOneSlicingArgument: false)
    search(first: Int!): UserConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
    strict(first: Int, last: Int): [User!]! @listSize(slicingArguments: ["first", "last"])
    tags: [String!]!
    things: [Thing!]!
    audit: Audit @requiresScopes(scopes: [["audit:read"], ["admin"]])
    expensive(filter: String @cost(weight: 7)): Int @cost(weight: 50)
  }
  type Mutation { rename(name: String!): User }
  type User { id: ID! name: String! secret: String @authenticated usage: Usage @requiresScopes(scopes: [["usage:read"], ["admin"]]) friends: [User!]! @listSize(assumedSize: 3) }
  type Usage @cost(weight: 5) { tokens: Int! }
  type Audit @requiresScopes(scopes: [["policies:read"]]) { entries: Int! }
  type UserConnection { edges: [UserEdge!]! total: Int! }
  type UserEdge { node: User! }
  union Thing = User | Usage
`);
const limits = { maxDepth: 10, maxAliases: 5, maxDirectives: 10, maxRootFields: 5, maxTokens: 1000, defaultListSize: 10 };

function analyzed(query: string): AnalyzedOperation {
  const result = analyzeOperation(index, query, undefined, limits);
  if (!result || !('document' in result)) throw new Error(`not analyzable: ${JSON.stringify(result)}`);
  return result;
}
const cost = (query: string, variables?: Record<string, unknown>) =>
  estimateCost(index, analyzed(query), variables, limits.defaultListSize);

describe('estimateCost', () => {
  it.each([
    ['a composite weighs 1, a scalar 0', '{ me { id name } }', 1],
    ['lists multiply by @listSize(assumedSize)', '{ me { friends { id } } }', 1 + 3 * 1],
    ['a slicing argument sets the size', '{ users(first: 7) { id } }', 7],
    ['the largest slicing argument wins', '{ users(first: 2, last: 4) { id } }', 4],
    ["a slicing argument's default applies", '{ users { id } }', 5],
    ['sizedFields move the size onto the named child', '{ search(first: 4) { total edges { node { id } } } }', 1 + 4 * (1 + 1)],
    ['a type weight from @cost', '{ me { usage { tokens } } }', 1 + 5],
    ['field and argument weights from @cost', '{ expensive(filter: "x") }', 50 + 7],
    ['lists without @listSize use the default size', '{ tags }', 0],
    [
      'abstract selections take their most expensive type',
      '{ things { ... on User { friends { id } } ... on Usage { tokens } } }',
      10 * (1 + 3),
    ],
    ['mutations add 10', 'mutation { rename(name: "x") { id } }', 10 + 1],
    ['@skip and @include are honoured', '{ me { id friends @skip(if: true) { id } } }', 1],
  ])('%s', (_name, query, expected) => {
    expect(cost(query)).toBe(expected);
  });

  it('reads slicing arguments from variables', () => {
    expect(cost('query ($n: Int) { users(first: $n) { id } }', { n: 9 })).toBe(9);
  });

  it('enforces requireOneSlicingArgument', () => {
    expect(() => cost('{ strict { id } }')).toThrow(CostError);
    expect(() => cost('{ strict(first: 1, last: 2) { id } }')).toThrow(CostError);
    expect(cost('{ strict(first: 3) { id } }')).toBe(3);
  });
});

describe('actualCost', () => {
  it('weighs what the response really holds', () => {
    const op = analyzed('{ me { friends { id friends { id } } } }');
    const data = {
      me: {
        friends: [
          { id: '1', friends: [] },
          { id: '2', friends: [{ id: '3' }] },
        ],
      },
    };
    expect(actualCost(index, op, data)).toBe(1 + 2 + 1);
    expect(estimateCost(index, op, undefined, 10)).toBe(1 + 3 * (1 + 3));
  });

  it('weighs each member of an abstract list by its own type, the same on every call', () => {
    const op = analyzed('fragment F on User { friends { id } } { things { __typename ...F ... on Usage { tokens } } }');
    const data = {
      things: [
        { __typename: 'User', friends: [{ id: '1' }, { id: '2' }] },
        { __typename: 'Usage', tokens: 3 },
        { __typename: 'User', friends: [] },
      ],
    };
    // Each of the three things weighs what `things` does (1), each friend 1; tokens is a leaf.
    const expected = 3 + 2;
    expect(actualCost(index, op, data)).toBe(expected);
    expect(actualCost(index, op, data)).toBe(expected);
    expect(actualCost(index, op, { things: [] })).toBe(0);
  });
});

describe('analyzeOperation limits', () => {
  it('reports depth, aliases and tokens beyond the limits', () => {
    expect(
      analyzeOperation(index, '{ me { friends { friends { friends { id } } } } }', undefined, { ...limits, maxDepth: 3 }),
    ).toMatchObject({ violation: 'Query depth 5 exceeds the maximum of 3' }); // leaves count
    expect(analyzeOperation(index, '{ a: me { id } b: me { id } }', undefined, { ...limits, maxAliases: 1 })).toMatchObject({
      violation: expect.stringMatching(/2 aliases/),
    });
    expect(analyzeOperation(index, '{ me { id name } }', undefined, { ...limits, maxTokens: 4 })).toMatchObject({
      violation: expect.stringMatching(/tokens/),
    });
    expect(analyzeOperation(index, '{ me { nope } }', undefined, limits)).toBeNull();
  });
});

describe('authorize', () => {
  const anonymous = { authenticated: false, scopes: new Set<string>() };
  const reader = { authenticated: true, scopes: new Set(['usage:read']) };

  it('removes fields the caller may not see, with fragments and unused variables', () => {
    const op = analyzed('query ($x: Boolean!) { me { id ...F usage @include(if: $x) { tokens } } } fragment F on User { secret name }');
    const result = authorize(op, anonymous);
    expect(result.denied.map((d) => d.path)).toHaveLength(2);
    expect(result.denied.map((d) => d.path)).toEqual(
      expect.arrayContaining([
        ['me', 'usage'],
        ['me', 'secret'],
      ]),
    );
    expect(print(result.document).replace(/\s+/g, ' ')).toBe('{ me { id ...F } } fragment F on User { name }');
    expect(authorize(op, reader).denied).toEqual([]);
    expect(authorize(op, reader).document).toBe(op.document);
  });

  it('reports an operation left empty', () => {
    const result = authorize(analyzed('{ me { secret } }'), anonymous);
    expect(result.empty).toBe(true);
    expect(result.denied.map((d) => d.path)).toEqual([['me', 'secret']]);
  });

  it('accepts any one of the scope sets', () => {
    const op = analyzed('{ me { usage { tokens } } }');
    expect(authorize(op, { authenticated: true, scopes: new Set(['admin']) }).denied).toEqual([]);
    expect(authorize(op, { authenticated: true, scopes: new Set(['usage:write']) }).denied).toHaveLength(1);
  });

  it("asks for a field's scopes and its type's scopes both", () => {
    const op = analyzed('{ audit { entries } }');
    const withScopes = (...scopes: string[]) => authorize(op, { authenticated: true, scopes: new Set(scopes) }).denied.length;
    expect(withScopes('audit:read')).toBe(1);
    expect(withScopes('policies:read')).toBe(1);
    expect(withScopes('audit:read', 'policies:read')).toBe(0);
    expect(withScopes('admin', 'policies:read')).toBe(0);
  });
});
