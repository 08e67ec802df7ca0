// Four subgraphs served over HTTP in-process for the executor's tests (plan-executor.test.ts):
// entities across subgraphs, @requires, @provides, an @interfaceObject (rewrites), unions and
// interfaces, @inaccessible types and enum values, and resolvers that fail, answer null or answer
// what the supergraph does not allow, so that every path of plan execution and shaping is taken.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

interface User {
  id: string;
  username: string;
  name: string | null;
  role: string;
}

const users: User[] = [
  { id: '1', username: 'ada', name: 'Ada', role: 'ADMIN' },
  { id: '2', username: 'bob', name: null, role: 'MEMBER' },
  { id: '3', username: 'cy', name: 'Cy', role: 'MEMBER' },
  // GUEST is @inaccessible: the gateway refuses the value.
  { id: '4', username: 'dee', name: 'Dee', role: 'GUEST' },
];
const userById = new Map(users.map((u) => [u.id, u]));

const accounts = {
  typeDefs: parse(/* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@inaccessible", "@shareable"])

    type Query {
      me: User
      users: [User]
      user(id: ID!): User
      requiredUser(id: ID!): User!
      node(id: ID!): Node
      search(term: String!, limit: Int = 10): [SearchResult!]
      strictUsers: [User!]
    }

    type Mutation {
      rename(id: ID!, name: String!): User
    }

    interface Node {
      id: ID!
    }

    type User implements Node @key(fields: "id") {
      id: ID!
      username: String! @shareable
      name: String
      "Fails for user 3; non-null, so the whole user becomes null."
      email: String!
      "Fails for users 2 and 3; nullable."
      nickname: String
      role: Role
      lucky(number: Int = 7): Int
    }

    type Organization implements Node @key(fields: "id") {
      id: ID!
      title: String!
    }

    type Bot implements Node @inaccessible {
      id: ID!
    }

    union SearchResult = User | Organization

    enum Role {
      ADMIN
      MEMBER
      GUEST @inaccessible
    }
  `),
  resolvers: {
    Query: {
      me: () => userById.get('1'),
      users: () => [users[0], users[1], null, users[2], users[3]],
      user: (_: unknown, { id }: { id: string }) => userById.get(id) ?? null,
      requiredUser: (_: unknown, { id }: { id: string }) => userById.get(id) ?? null,
      node: (_: unknown, { id }: { id: string }) =>
        id.startsWith('bot')
          ? { __typename: 'Bot', id }
          : id.startsWith('org')
            ? { __typename: 'Organization', id, title: 'Acme' }
            : userById.get(id)
              ? { __typename: 'User', ...userById.get(id) }
              : null,
      search: (_: unknown, { term, limit }: { term: string; limit: number }) =>
        [
          ...users.filter((u) => u.username.includes(term)).map((u) => ({ __typename: 'User', ...u })),
          { __typename: 'Organization', id: 'org-1', title: `Acme ${term}` },
        ].slice(0, limit),
      strictUsers: () => [users[0], null, users[1]],
    },
    Mutation: {
      rename: (_: unknown, { id, name }: { id: string; name: string }) => {
        const user = userById.get(id);
        return user ? { ...user, name } : null;
      },
    },
    User: {
      __resolveReference: (ref: { id: string }) => userById.get(ref.id) ?? null,
      email: (user: User) => {
        if (user.id === '3') throw new GraphQLError('email is private', { extensions: { code: 'FORBIDDEN' } });
        return `${user.username}@example.com`;
      },
      nickname: (user: User) => {
        if (user.id === '2' || user.id === '3') throw new Error(`no nickname for ${user.username}`);
        return `${user.username}-nick`;
      },
      lucky: (user: User, { number }: { number: number }) => number * Number(user.id),
    },
    Organization: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, title: 'Acme' }),
    },
  },
};

interface Product {
  upc: string;
  name: string;
  price: number;
  weight: number;
}
const products: Product[] = [
  { upc: '1', name: 'Table', price: 100, weight: 10 },
  { upc: '2', name: 'Chair', price: 50, weight: 5 },
  { upc: '3', name: 'Lamp', price: 20, weight: 2 },
];
const productByUpc = new Map(products.map((p) => [p.upc, p]));

const media = [
  { __typename: 'Book', id: 'm1', title: 'Dune', pages: 412 },
  { __typename: 'Movie', id: 'm2', title: 'Alien', minutes: 117 },
];

const catalog = {
  typeDefs: parse(/* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])

    type Query {
      topProducts(first: Int = 5): [Product]
      product(upc: String!): Product
      media: [Media]
    }

    type Product @key(fields: "upc") {
      upc: String!
      name: String!
      price: Int
      weight: Int
      tags: [String!]
    }

    interface Media @key(fields: "id") {
      id: ID!
      title: String
    }

    type Book implements Media @key(fields: "id") {
      id: ID!
      title: String
      pages: Int
    }

    type Movie implements Media @key(fields: "id") {
      id: ID!
      title: String
      minutes: Int
    }
  `),
  resolvers: {
    Query: {
      topProducts: (_: unknown, { first }: { first: number }) => products.slice(0, first),
      product: (_: unknown, { upc }: { upc: string }) => productByUpc.get(upc) ?? null,
      media: () => media,
    },
    Product: {
      // Product 999 is known to reviews only: its entity is null here, with no error.
      __resolveReference: (ref: { upc: string }) => productByUpc.get(ref.upc) ?? null,
      tags: (product: Product) => (product.upc === '2' ? ['wood', 'seat'] : []),
    },
    Media: {
      __resolveReference: (ref: { id: string }) => media.find((m) => m.id === ref.id) ?? null,
      __resolveType: (value: { __typename: string }) => value.__typename,
    },
    Book: { __resolveReference: (ref: { id: string }) => media.find((m) => m.id === ref.id) ?? null },
    Movie: { __resolveReference: (ref: { id: string }) => media.find((m) => m.id === ref.id) ?? null },
  },
};

interface Review {
  id: string;
  body: string;
  rating: number | null;
  authorId: string;
  upc: string;
}
const reviews: Review[] = [
  { id: 'r1', body: 'Solid', rating: 5, authorId: '1', upc: '1' },
  { id: 'r2', body: 'Wobbly', rating: 2, authorId: '2', upc: '1' },
  { id: 'r3', body: 'Comfy', rating: 4, authorId: '1', upc: '2' },
  { id: 'r4', body: 'Bright', rating: null, authorId: '3', upc: '3' },
  { id: 'r5', body: 'Where is it?', rating: 1, authorId: '2', upc: '999' },
  { id: 'r6', body: 'Fine', rating: 3, authorId: '4', upc: '2' },
];

const reviewsSubgraph = {
  typeDefs: parse(/* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@provides"])

    type Query {
      reviews: [Review!]!
      review(id: ID!): Review
    }

    type Review @key(fields: "id") {
      id: ID!
      body: String!
      "Non-null, but null for review r4."
      rating: Int!
      author: User @provides(fields: "username")
      product: Product
    }

    type User @key(fields: "id") {
      id: ID!
      username: String! @external
      reviews: [Review]
    }

    type Product @key(fields: "upc") {
      upc: String!
      reviews: [Review]!
    }
  `),
  resolvers: {
    Query: {
      reviews: () => reviews,
      review: (_: unknown, { id }: { id: string }) => reviews.find((r) => r.id === id) ?? null,
    },
    Review: {
      __resolveReference: (ref: { id: string }) => reviews.find((r) => r.id === ref.id) ?? null,
      author: (review: Review) => ({
        __typename: 'User',
        id: review.authorId,
        username: userById.get(review.authorId)?.username ?? 'ghost',
      }),
      product: (review: Review) => ({ __typename: 'Product', upc: review.upc }),
    },
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      reviews: (user: { id: string }) => reviews.filter((r) => r.authorId === user.id),
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => ({ upc: ref.upc }),
      reviews: (product: { upc: string }) => reviews.filter((r) => r.upc === product.upc),
    },
  },
};

const inventory = {
  typeDefs: parse(/* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@interfaceObject"])

    type Product @key(fields: "upc") {
      upc: String!
      price: Int @external
      weight: Int @external
      "Fails for product 3."
      inStock: Boolean
      shippingEstimate: Int @requires(fields: "price weight")
      "This subgraph answers HTTP 500 to any request that asks for it."
      warehouse: String
    }

    type Media @key(fields: "id") @interfaceObject {
      id: ID!
      stock: Int
    }
  `),
  resolvers: {
    Product: {
      __resolveReference: (ref: { upc: string; price?: number; weight?: number }) => ref,
      inStock: (product: { upc: string }) => {
        if (product.upc === '3') throw new Error('inventory unknown');
        return product.upc === '1';
      },
      shippingEstimate: (product: { price?: number; weight?: number }) => ((product.price ?? 0) > 60 ? 0 : (product.weight ?? 0) * 2),
      warehouse: () => 'north',
    },
    Media: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, stock: ref.id === 'm1' ? 3 : 0 }),
    },
  },
};

const definitions = { accounts, catalog, reviews: reviewsSubgraph, inventory };
export type TestSubgraphName = keyof typeof definitions;

function serve(name: string, schema: GraphQLSchema): Server {
  const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (name === 'inventory' && text.includes('warehouse')) return send(500, { errors: [{ message: 'warehouse database down' }] });
      const request = JSON.parse(text) as { query: string; variables?: Record<string, unknown>; operationName?: string };
      let document = documents.get(request.query);
      if (!document) {
        const parsed = parse(request.query);
        const errors = validate(schema, parsed);
        document = errors.length ? errors : parsed;
        documents.set(request.query, document);
      }
      if (!('kind' in document)) return send(400, { errors: document });
      void Promise.resolve(execute({ schema, document, variableValues: request.variables, operationName: request.operationName })).then(
        (result) => send(200, result),
      );
    });
  });
}

export interface TestSubgraphs {
  supergraphSdl: string;
  /** The routing URL of each subgraph. */
  urls: Record<TestSubgraphName, string>;
  /** How many requests each subgraph received. */
  requests: Record<TestSubgraphName, number>;
  close: () => Promise<void>;
}

/** Starts the four subgraphs on free loopback ports and composes their supergraph. */
export async function startTestSubgraphs(): Promise<TestSubgraphs> {
  const names = Object.keys(definitions) as TestSubgraphName[];
  const requests = Object.fromEntries(names.map((name) => [name, 0])) as Record<TestSubgraphName, number>;
  const servers = names.map((name) => {
    const server = serve(name, buildSubgraphSchema(definitions[name] as Parameters<typeof buildSubgraphSchema>[0]));
    server.on('request', () => requests[name]++);
    return server;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const urls = Object.fromEntries(
    names.map((name, i) => [name, `http://127.0.0.1:${(servers[i]!.address() as AddressInfo).port}/graphql`]),
  ) as Record<TestSubgraphName, string>;
  const composed = composeServices(names.map((name) => ({ name, url: urls[name], typeDefs: definitions[name].typeDefs })));
  if (composed.errors) throw new Error(`composition failed: ${composed.errors.map((e) => e.message).join('; ')}`);
  return {
    supergraphSdl: composed.supergraphSdl,
    urls,
    requests,
    close: async () => {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
