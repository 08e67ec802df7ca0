import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { audienceOf, selects } from './subscription-audience.ts';

const { buildSchema, parse } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const schema = buildSchema(`
  type Query { event: Event node: Node }
  interface Node { id: ID! }
  type Event { id: ID! organization: Organization! }
  type Organization { name: String! members: [Member!]! }
  type Member { role: String! user: User }
  type User implements Node { id: ID! email: String! }
`);

describe('selects', () => {
  it('finds a type anywhere in the selection, through lists and fragments', () => {
    expect(selects(schema, parse('{ event { id organization { name } } }'), 'User')).toBe(false);
    expect(selects(schema, parse('{ event { organization { members { role user { id } } } } }'), 'User')).toBe(true);
    expect(
      selects(schema, parse('{ event { organization { ...M } } } fragment M on Organization { members { user { email } } }'), 'User'),
    ).toBe(true);
    expect(selects(schema, parse('{ node { id } }'), 'User')).toBe(true);
  });
});

describe('audienceOf', () => {
  const user = (userId: string) => ({ kind: 'user', userId }) as const;
  const key = (scopes: string[]) => ({ kind: 'apiKey', apiKeyId: 'k', projectId: 'p', organizationId: 'o', scopes }) as const;

  it('puts users of the same memberships together, unless the selection reaches a User', () => {
    expect(audienceOf(user('a'), 'o1:MEMBER', false)).toBe(audienceOf(user('b'), 'o1:MEMBER', false));
    expect(audienceOf(user('a'), 'o1:MEMBER', false)).not.toBe(audienceOf(user('b'), 'o1:OWNER', false));
    expect(audienceOf(user('a'), 'o1:MEMBER', true)).not.toBe(audienceOf(user('b'), 'o1:MEMBER', true));
  });

  it('puts API keys of the same scopes together, whatever their order', () => {
    expect(audienceOf(key(['usage:read', 'projects:read']), '', false)).toBe(audienceOf(key(['projects:read', 'usage:read']), '', true));
    expect(audienceOf(key(['usage:read']), '', false)).not.toBe(audienceOf(key(['usage:read', 'projects:read']), '', false));
  });
});
