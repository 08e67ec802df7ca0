// The products subgraph the compatibility suite tests (its products.graphql), written with
// @apollo/server and @apollo/subgraph: the suite checks a subgraph library through a router, and
// this one is known to be compliant, so that what fails is the router's doing.
// `PORT=... PRODUCTS_SCHEMA=<products.graphql> node --import tsx bench/federation/compatibility/products.ts`
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

interface Product {
  id: string;
  sku: string;
  package: string;
  variation: string;
}

interface UserReference {
  email?: string;
  totalProductsCreated?: number;
  yearsOfEmployment?: number;
}

const products: Product[] = [
  { id: 'apollo-federation', sku: 'federation', package: '@apollo/federation', variation: 'OSS' },
  { id: 'apollo-studio', sku: 'studio', package: '', variation: 'platform' },
];
const deprecatedProduct = { sku: 'apollo-federation-v1', package: '@apollo/federation-v1', reason: 'Migrate to Federation V2' };
const research = [
  { study: { caseNumber: '1234', description: 'Federation Study' }, outcome: null },
  { study: { caseNumber: '1235', description: 'Studio Study' }, outcome: null },
];
const researchOf: Record<string, (typeof research)[number][]> = {
  'apollo-federation': research.slice(0, 1),
  'apollo-studio': research.slice(1, 2),
};
const creator = { email: 'support@apollographql.com', name: 'Jane Smith', totalProductsCreated: 1337 };
const isDeprecated = (ref: { sku?: string; package?: string }) =>
  ref.sku === deprecatedProduct.sku && ref.package === deprecatedProduct.package;

function findProduct(ref: { id?: string; sku?: string; package?: string; variation?: { id?: string } }) {
  if (ref.id) return products.find((p) => p.id === ref.id) ?? null;
  if (ref.package !== undefined) return products.find((p) => p.sku === ref.sku && p.package === ref.package) ?? null;
  return products.find((p) => p.sku === ref.sku && p.variation === ref.variation?.id) ?? null;
}

const schemaPath = process.env['PRODUCTS_SCHEMA'];
const port = Number(process.env['PORT']);
if (!schemaPath || !Number.isInteger(port)) throw new Error('products: PRODUCTS_SCHEMA and PORT must be set');

const schema = buildSubgraphSchema({
  typeDefs: parse(readFileSync(schemaPath, 'utf8')),
  resolvers: {
    Query: {
      product: (_: unknown, args: { id: string }) => findProduct({ id: args.id }),
      deprecatedProduct: (_: unknown, args: { sku: string; package: string }) => (isDeprecated(args) ? deprecatedProduct : null),
    },
    Product: {
      __resolveReference: findProduct,
      variation: (product: Product) => ({ id: product.variation }),
      dimensions: () => ({ size: 'small', weight: 1, unit: 'kg' }),
      createdBy: () => creator,
      research: (product: Product) => researchOf[product.id] ?? [],
    },
    DeprecatedProduct: {
      __resolveReference: (ref: { sku?: string; package?: string }) => (isDeprecated(ref) ? deprecatedProduct : null),
      createdBy: () => creator,
    },
    ProductResearch: {
      __resolveReference: (ref: { study: { caseNumber: string } }) =>
        research.find((r) => r.study.caseNumber === ref.study.caseNumber) ?? null,
    },
    User: {
      __resolveReference: (ref: UserReference) =>
        ref.email
          ? {
              email: ref.email,
              name: creator.name,
              totalProductsCreated: ref.totalProductsCreated ?? creator.totalProductsCreated,
              yearsOfEmployment: ref.yearsOfEmployment,
            }
          : null,
      averageProductsCreatedPerYear: (user: UserReference) => {
        if (user.email !== creator.email) throw new GraphQLError(`user.email was not '${creator.email}'`);
        if (!user.totalProductsCreated || !user.yearsOfEmployment)
          throw new GraphQLError('totalProductsCreated and yearsOfEmployment are required');
        return Math.round(user.totalProductsCreated / user.yearsOfEmployment);
      },
    },
    Inventory: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      deprecatedProducts: () => [deprecatedProduct],
    },
  },
});

// Apollo Server installs its inline-trace plugin for subgraph schemas: the suite's ftv1 test.
const server = new ApolloServer({ schema });
const { url } = await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
process.stdout.write(`products subgraph ready at ${url}\n`);
const stop = () => void server.stop().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
