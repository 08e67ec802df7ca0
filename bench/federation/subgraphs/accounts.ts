import { parse } from 'graphql';
import type { GraphQLSchemaModule } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])

  type Query {
    me: User
    user(id: ID!): User
    users: [User]
  }

  type User @key(fields: "id") {
    id: ID!
    name: String
    username: String @shareable
    birthday: Int
  }
`);

interface User {
  id: string;
  name: string;
  username: string;
  birthday: number;
}

const users: User[] = [
  { id: '1', name: 'Uri Goldshtein', username: 'urigo', birthday: 1234567890 },
  { id: '2', name: 'Dotan Simha', username: 'dotansimha', birthday: 1234567890 },
  { id: '3', name: 'Kamil Kisiela', username: 'kamilkisiela', birthday: 1234567890 },
  { id: '4', name: 'Arda Tanrikulu', username: 'ardatan', birthday: 1234567890 },
  { id: '5', name: 'Gil Gardosh', username: 'gilgardosh', birthday: 1234567890 },
  { id: '6', name: 'Laurin Quast', username: 'laurin', birthday: 1234567890 },
];
const byId = new Map(users.map((user) => [user.id, user]));

export const subgraph: GraphQLSchemaModule = {
  typeDefs,
  resolvers: {
    Query: {
      me: () => users[0],
      user: (_: unknown, args: { id: string }) => byId.get(args.id) ?? null,
      users: () => users,
    },
    User: {
      __resolveReference: (reference: { id: string }) => byId.get(reference.id) ?? null,
    },
  },
};
