import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { createGateway } from './gateway.ts';
import { createMetrics } from './metrics.ts';
import { startTestSubgraphs, type TestSubgraphs } from './test-subgraphs.ts';

interface Operation {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

const reviewFields = /* GraphQL */ `
  fragment ReviewFields on Review {
    id
    body
    author {
      username
      name
    }
  }
`;

/**
 * Operations whose answers this router's executor must give byte for byte as @apollo/gateway
 * gives them: errors, nulls in non-null positions, lists of entities, abstract types,
 * @skip/@include, aliases, __typename, variables, introspection, mutations.
 */
const operations: Operation[] = [
  { name: 'a root field of one subgraph', query: '{ me { id username name } }' },
  {
    name: 'entities across three subgraphs',
    query: '{ topProducts { upc name price reviews { id body author { id username name email } } } }',
  },
  { name: '@requires: inputs from another subgraph', query: '{ topProducts { name shippingEstimate inStock } }' },
  { name: 'lists of entities with a null in them', query: '{ users { id username reviews { body product { name price } } } }' },
  {
    name: 'the same entity many times (deduplicated representations)',
    query: '{ reviews { id author { username name email } product { name inStock } } }',
  },
  { name: 'an entity error in an entity fetch', query: '{ reviews { id product { upc inStock } } }' },
  { name: 'entity errors on duplicated entities, at every occurrence and in order', query: '{ reviews { id author { id nickname } } }' },
  { name: 'a non-null field failing: the object becomes null', query: '{ users { id email } }' },
  { name: 'a non-null list element null: the list becomes null', query: '{ strictUsers { id } }' },
  { name: 'a non-null root field null: data is null', query: '{ requiredUser(id: "404") { id } }' },
  { name: 'a non-null field null in a subgraph answer', query: '{ reviews { id rating } }' },
  {
    name: 'an entity missing in its subgraph: null in a non-null field (valueCompletion)',
    query: '{ review(id: "r5") { id product { upc name } } }',
  },
  { name: 'an @inaccessible enum value', query: '{ users { id role } }' },
  { name: 'an @inaccessible type behind an interface', query: '{ node(id: "bot-1") { id __typename } }' },
  {
    name: 'interfaces with fragments',
    query:
      '{ a: node(id: "1") { __typename id ... on User { username reviews { body } } } b: node(id: "org-1") { id ... on Organization { title } ... on User { name } } }',
  },
  {
    name: 'a union with fragments on each member',
    query: '{ search(term: "a") { __typename ... on User { id username reviews { product { name } } } ... on Organization { id title } } }',
  },
  {
    name: 'a union with a variable default overridden',
    query: 'query ($limit: Int) { search(term: "b", limit: $limit) { ... on User { username } } }',
    variables: { limit: 1 },
  },
  {
    name: '@interfaceObject: rewrites of __typename',
    query: '{ media { id title stock ... on Book { pages } ... on Movie { minutes } } }',
  },
  {
    name: 'aliases, some named like Object.prototype members',
    query:
      '{ first: user(id: "1") { constructor: username toString: name valueOf: id } second: user(id: "2") { hasOwnProperty: username } }',
  },
  {
    name: 'the same field under two aliases with different arguments',
    query: '{ u1: user(id: "1") { l1: lucky l2: lucky(number: 3) } u2: user(id: "4") { lucky(number: 2) } }',
  },
  {
    name: '__typename everywhere, aliased too',
    query: '{ __typename t: __typename me { __typename kind: __typename reviews { __typename product { __typename upc } } } }',
  },
  {
    name: 'mutation with __typename and an entity fetch after it',
    query: 'mutation { __typename rename(id: "1", name: "Countess") { id name reviews { body } } }',
  },
  {
    name: '@skip and @include with constants',
    query: '{ me { id name @skip(if: true) username @include(if: true) reviews @include(if: false) { id } } }',
  },
  {
    name: '@skip and @include with variables on fields and fragments',
    query:
      'query ($skip: Boolean!, $with: Boolean = true) { me { id ... on User @skip(if: $skip) { name } reviews @include(if: $with) { id product { name @skip(if: $skip) inStock @include(if: $with) } } } }',
    variables: { skip: false },
  },
  {
    name: '@include on a field another subgraph resolves (a plan condition)',
    query: 'query ($details: Boolean!) { topProducts { name reviews @include(if: $details) { body } } }',
    variables: { details: true },
  },
  {
    name: '@include false on a field another subgraph resolves',
    query: 'query ($details: Boolean!) { topProducts { name reviews @include(if: $details) { body } } }',
    variables: { details: false },
  },
  {
    name: 'named fragments, nested and repeated',
    query: `{ reviews { ...ReviewFields product { upc reviews { ...ReviewFields } } } } ${reviewFields}`,
  },
  {
    name: 'fields merged from fragments in their order',
    query: '{ me { ... on User { reviews { body } } id ... on User { reviews { id } username } } }',
  },
  { name: 'operation name picked among several', query: `query One { me { id } } query Two { users { id } }`, operationName: 'Two' },
  {
    name: 'variables forwarded to a subgraph',
    query: 'query ($upc: String!, $first: Int) { product(upc: $upc) { name reviews { body } } topProducts(first: $first) { upc } }',
    variables: { upc: '2', first: 2 },
  },
  { name: 'an invalid variable', query: 'query ($upc: String!) { product(upc: $upc) { name } }', variables: { upc: 5 } },
  { name: 'a missing variable', query: 'query ($upc: String!) { product(upc: $upc) { name } }' },
  { name: 'an HTTP 500 from a subgraph', query: '{ topProducts { upc name warehouse } }' },
  {
    name: 'introspection beside data',
    query: '{ __schema { queryType { name } } me { id } __type(name: "Role") { enumValues { name } } }',
  },
  {
    name: 'introspection with a variable',
    query: 'query ($type: String!) { __type(name: $type) { name fields { name } } }',
    variables: { type: 'Organization' },
  },
  { name: 'only __typename', query: '{ __typename }' },
  { name: 'lists of scalars', query: '{ topProducts { upc tags } }' },
];

let subgraphs: TestSubgraphs;
let reference: ApolloServer;
let router: ApolloServer;
let folder: string;

beforeAll(async () => {
  subgraphs = await startTestSubgraphs();
  folder = await mkdtemp(join(tmpdir(), 'mindweave-plan-executor-'));
  const supergraphPath = join(folder, 'supergraph.graphql');
  await writeFile(supergraphPath, subgraphs.supergraphSdl);
  // The reference: @apollo/gateway as it comes, with its own data sources.
  reference = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: subgraphs.supergraphSdl }) });
  router = new ApolloServer({
    gateway: createGateway({
      supergraphPath,
      source: 'file',
      databaseUrl: '',
      pollMs: 1_000,
      subgraphUrls: new Map(),
      signingSecret: 'test',
      subgraphTimeoutMs: 5_000,
      executor: 'router',
      deduplicateSubgraphQueries: true,
      metrics: createMetrics(),
      log: createLogger({ name: 'router', level: 'silent' }),
    }),
  });
  await Promise.all([reference.start(), router.start()]);
});

afterAll(async () => {
  await Promise.all([reference?.stop(), router?.stop()]);
  await subgraphs?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

async function answer(server: ApolloServer, operation: Operation): Promise<string> {
  const response = await server.executeHTTPGraphQLRequest({
    httpGraphQLRequest: {
      method: 'POST',
      headers: new HeaderMap([['content-type', 'application/json']]),
      search: '',
      body: {
        query: operation.query,
        ...(operation.variables ? { variables: operation.variables } : {}),
        ...(operation.operationName ? { operationName: operation.operationName } : {}),
      },
    },
    context: async () => ({}),
  });
  if (response.body.kind !== 'complete') throw new Error('expected a complete response');
  return `${response.status ?? 200} ${response.body.string}`;
}

describe('the plan executor', () => {
  it.each(operations)('answers as @apollo/gateway: $name', async (operation) => {
    const expected = await answer(reference, operation);
    expect(await answer(router, operation)).toBe(expected);
    // Planned and compiled once: the second time is served from the compiled plan.
    expect(await answer(router, operation)).toBe(expected);
  });

  it('covers errors, partial data and shaping errors among its operations', async () => {
    const answers = await Promise.all(operations.map((operation) => answer(router, operation)));
    if (process.env['DUMP']) for (const [i, a] of answers.entries()) console.log(operations[i]?.name, '\n', a.slice(0, 1200));
    expect(answers.filter((a) => a.includes('"errors"')).length).toBeGreaterThan(8);
    expect(answers.some((a) => a.includes('"valueCompletion"'))).toBe(true);
    expect(answers.some((a) => a.includes('"data":null'))).toBe(true);
    expect(answers.some((a) => a.includes('"DOWNSTREAM_SERVICE_ERROR"'))).toBe(true);
  });

  it('sends identical subgraph queries of concurrent operations once', async () => {
    const operation = { name: 'many at once', query: '{ topProducts { name reviews { body author { name } } } }' };
    const expected = await answer(reference, operation);
    await answer(router, operation);
    const before = { ...subgraphs.requests };
    const answers = await Promise.all(Array.from({ length: 20 }, () => answer(router, operation)));
    expect(new Set(answers)).toEqual(new Set([expected]));
    const sent = Object.values(subgraphs.requests).reduce((sum, n) => sum + n, 0) - Object.values(before).reduce((sum, n) => sum + n, 0);
    // Three fetches per operation without deduplication.
    expect(sent).toBeLessThan(20 * 3);
  });
});
