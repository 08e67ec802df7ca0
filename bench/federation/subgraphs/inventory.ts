import { parse } from 'graphql';
import type { GraphQLSchemaModule } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires"])

  type Product @key(fields: "upc") {
    upc: String!
    weight: Int @external
    price: Int @external
    inStock: Boolean
    shippingEstimate: Int @requires(fields: "price weight")
  }
`);

/**
 * What inventory itself stores. The original's entity resolver answers from this record and not
 * from the representation, so price and weight are unknown here and shippingEstimate is null in
 * the published responses; the gateways still have to fetch price and weight for @requires.
 */
interface Stock {
  upc: string;
  inStock: boolean;
  price: number | null;
  weight: number | null;
}

const stock: Stock[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((upc) => ({
  upc,
  inStock: ['1', '5', '6', '7', '9'].includes(upc),
  price: null,
  weight: null,
}));
const byUpc = new Map(stock.map((item) => [item.upc, item]));

function shippingEstimate(item: Stock): number | null {
  if (item.price === null) return null;
  if (item.price > 1000) return 0;
  return item.weight === null ? null : item.weight / 2;
}

export const subgraph: GraphQLSchemaModule = {
  typeDefs,
  resolvers: {
    Product: {
      __resolveReference: (reference: { upc: string }) => byUpc.get(reference.upc) ?? null,
      shippingEstimate,
    },
  },
};
