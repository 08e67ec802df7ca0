import { parse } from 'graphql';
import type { GraphQLSchemaModule } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type Query {
    topProducts(first: Int = 5): [Product]
  }

  type Product @key(fields: "upc") {
    upc: String!
    name: String
    price: Int
    weight: Int
  }
`);

interface Product {
  upc: string;
  name: string;
  price: number;
  weight: number;
}

const products: Product[] = [
  { upc: '1', name: 'Table', price: 899, weight: 100 },
  { upc: '2', name: 'Couch', price: 1299, weight: 1000 },
  { upc: '3', name: 'Glass', price: 15, weight: 20 },
  { upc: '4', name: 'Chair', price: 499, weight: 100 },
  { upc: '5', name: 'TV', price: 1299, weight: 1000 },
  { upc: '6', name: 'Lamp', price: 6999, weight: 300 },
  { upc: '7', name: 'Grill', price: 3999, weight: 2000 },
  { upc: '8', name: 'Fridge', price: 100000, weight: 6000 },
  { upc: '9', name: 'Sofa', price: 9999, weight: 800 },
];
const byUpc = new Map(products.map((product) => [product.upc, product]));

export const subgraph: GraphQLSchemaModule = {
  typeDefs,
  resolvers: {
    Query: {
      topProducts: (_: unknown, args: { first?: number | null }) => products.slice(0, args.first ?? 5),
    },
    Product: {
      __resolveReference: (reference: { upc: string }) => byUpc.get(reference.upc) ?? null,
    },
  },
};
