import type { GraphQLSchemaModule } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { subgraph as accounts } from './accounts.ts';
import { subgraph as inventory } from './inventory.ts';
import { subgraph as products } from './products.ts';
import { subgraph as reviews } from './reviews.ts';

/** The four subgraphs of the public federation benchmark, by the names its supergraph gives them. */
export const subgraphs = { accounts, inventory, products, reviews } satisfies Record<string, GraphQLSchemaModule>;

export type SubgraphName = keyof typeof subgraphs;
export const subgraphNames = Object.keys(subgraphs) as SubgraphName[];

export const isSubgraphName = (name: string): name is SubgraphName => name in subgraphs;
