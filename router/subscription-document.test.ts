import { buildSchema, GraphQLError, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MindweaveError, ErrorCode } from '@mindweave/errors';
import { prepareSubscription, subscriptionDocumentOf } from './subscription-document.ts';

const schema = buildSchema(`
  scalar JSON
  type Organization { name: String }
  type Usage { id: ID! model: String organization: Organization }
  type Query { usageEventsFromStream(events: [JSON!]!): [Usage] }
  type Subscription { usageUpdated(organizationId: ID!): Usage! other: Int }
`);
const asSent = { resolve: (request: { query?: string }) => Promise.resolve(request) };

describe('prepareSubscription', () => {
  it('resolves the selection, with its fragments, through usageEventsFromStream, for the organization in the variables', () => {
    const document = parse(`
      subscription Watch($org: ID!) { live: usageUpdated(organizationId: $org) { id ...Org } }
      fragment Org on Usage { organization { name } }
    `);
    const prepared = prepareSubscription(document, 'Watch', { org: 'o1' });
    expect(prepared).toEqual({
      organizationId: 'o1',
      responseKey: 'live',
      query: [
        'query ($events: [JSON!]!) { usageEventsFromStream(events: $events) {\n  id\n  ...Org\n} }',
        'fragment Org on Usage {\n  organization {\n    name\n  }\n}',
      ].join('\n'),
    });
  });

  it('takes the literal organization and the field name when there is no alias', () => {
    const prepared = prepareSubscription(parse('subscription { usageUpdated(organizationId: "o2") { id } }'), undefined, {});
    expect(prepared).toMatchObject({ organizationId: 'o2', responseKey: 'usageUpdated' });
  });

  it('picks the named operation of several', () => {
    const document = parse(
      'query Q { usageEventsFromStream(events: []) { id } } subscription S { usageUpdated(organizationId: "o") { id } }',
    );
    expect(prepareSubscription(document, 'S', {})).toMatchObject({ organizationId: 'o' });
    expect((prepareSubscription(document, 'Q', {}) as GraphQLError).message).toBe('Only subscriptions are served over WebSocket');
  });

  it('refuses anything but exactly one usageUpdated field with a selection', () => {
    for (const query of [
      'subscription { other }',
      'subscription { usageUpdated(organizationId: "o") { id } other }',
      'subscription { usageUpdated(organizationId: "o") }',
    ]) {
      const refused = prepareSubscription(parse(query), undefined, {});
      expect(refused).toBeInstanceOf(GraphQLError);
      expect((refused as GraphQLError).extensions['code']).toBe(ErrorCode.BAD_USER_INPUT);
    }
  });
});

describe('subscriptionDocumentOf', () => {
  it('answers the persisted query the payload stands for, parsed', async () => {
    const query = 'subscription { usageUpdated(organizationId: "o") { id } }';
    const persisted = { resolve: () => Promise.resolve({ query }) };
    const answer = await subscriptionDocumentOf(schema, persisted, { extensions: { persistedQuery: { sha256Hash: 'h' } } });
    expect(answer).toMatchObject({ query, document: parse(query) });
  });

  it('hands an empty query to the persisted queries as none, with the extensions', async () => {
    const seen: unknown[] = [];
    const persisted = {
      resolve: (request: unknown) => {
        seen.push(request);
        return Promise.resolve({ query: '{ x' });
      },
    };
    await subscriptionDocumentOf(schema, persisted, { query: '', extensions: null });
    expect(seen).toEqual([{ query: undefined, extensions: undefined }]);
  });

  it("keeps a persisted-query refusal's code, and calls any other failure bad input", async () => {
    const refusal = new MindweaveError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
    const [coded] = (await subscriptionDocumentOf(schema, { resolve: () => Promise.reject(refusal) }, {})) as GraphQLError[];
    expect(coded?.extensions['code']).toBe(ErrorCode.PERSISTED_QUERY_NOT_FOUND);
    const [plain] = (await subscriptionDocumentOf(schema, { resolve: () => Promise.reject(new Error('no')) }, {})) as GraphQLError[];
    expect(plain?.extensions['code']).toBe(ErrorCode.BAD_USER_INPUT);
    expect(plain?.message).toBe('no');
  });

  it('answers parse and validation errors with their codes', async () => {
    const [syntax] = (await subscriptionDocumentOf(schema, asSent, { query: 'subscription {' })) as GraphQLError[];
    expect(syntax?.extensions['code']).toBe(ErrorCode.GRAPHQL_PARSE_FAILED);
    const invalid = (await subscriptionDocumentOf(schema, asSent, { query: 'subscription { usageUpdated { nope } }' })) as GraphQLError[];
    expect(invalid.length).toBe(2);
    expect(invalid.every((e) => e.extensions['code'] === ErrorCode.GRAPHQL_VALIDATION_FAILED)).toBe(true);
  });
});
