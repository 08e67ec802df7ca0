import { parse } from 'graphql';
import type { GraphQLSchemaModule } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@provides"])

  type Review @key(fields: "id") {
    id: ID!
    body: String
    product: Product
    author: User @provides(fields: "username")
  }

  type User @key(fields: "id") {
    id: ID!
    username: String @external
    reviews: [Review]
  }

  type Product @key(fields: "upc") {
    upc: String!
    reviews: [Review]
  }
`);

interface Review {
  id: string;
  body: string;
  product: { upc: string };
}

const lorem =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.';
const perspiciatis =
  'Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugi';
const consequuntur =
  'sed quia consequuntur magni dolores eos qui ratione voluptatem sequi nesciunt. Neque porro quisquam est, qui dolorem ipsum quia dolor sit amet, consectetur, adipisci velit, sed quia non numquam eius modi tempora incidunt ut labore et dolore magnam aliquam quaerat voluptatem.';
const minima =
  'Ut enim ad minima veniam, quis nostrum exercitationem ullam corporis suscipit laboriosam, nisi ut aliquid ex ea commodi consequatur? Quis autem';
const accusamus =
  'At vero eos et accusamus et iusto odio dignissimos ducimus qui blanditiis praesentium voluptatum deleniti atque corrupti quos dolores et quas molestias excepturi sint occaecati cupiditate non provident, similique sunt in culpa qui officia deserunt mollitia animi, id est laborum et dolorum fuga. Et harum quidem rerum facilis est et expedita distinctio. Nam libero tempore, cum soluta nobis est eligendi optio cumque nihil impedit quo minus id quod maxime placeat facere possimus, omnis voluptas assumenda est, omnis dolor repellendus. Temporibus autem quibusdam et aut officiis debitis aut rerum necessitatibus saepe eveniet ut et voluptates repudiandae sint et molestiae non recusandae. Itaque earum rerum hic tenetur a sapiente delectus, ut aut reiciendis voluptatibus maiores alias consequatur aut perferendis doloribus asperiores repellat.';

// Product 1 has four reviews, 2 four, 3 one, 4 two, the others none.
const reviews: Review[] = [
  [lorem, '1'],
  [perspiciatis, '1'],
  [consequuntur, '1'],
  [minima, '1'],
  [lorem, '2'],
  [perspiciatis, '2'],
  [consequuntur, '2'],
  [minima, '2'],
  [minima, '3'],
  [minima, '4'],
  [accusamus, '4'],
].map(([body, upc], i) => ({ id: String(i + 1), body: body ?? '', product: { upc: upc ?? '' } }));
const byId = new Map(reviews.map((review) => [review.id, review]));
const byProduct = new Map<string, Review[]>();
for (const review of reviews) {
  const list = byProduct.get(review.product.upc) ?? [];
  list.push(review);
  byProduct.set(review.product.upc, list);
}

// As in the original: every user's reviews are the first two, and every review's author is user 1.
const firstTwo = reviews.slice(0, 2);
const author = { id: '1', username: 'urigo' };

export const subgraph: GraphQLSchemaModule = {
  typeDefs,
  resolvers: {
    Review: {
      __resolveReference: (reference: { id: string }) => byId.get(reference.id) ?? null,
      author: () => author,
    },
    User: {
      __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
      reviews: () => firstTwo,
    },
    Product: {
      __resolveReference: (reference: { upc: string }) => ({ upc: reference.upc }),
      reviews: (product: { upc: string }) => byProduct.get(product.upc) ?? [],
    },
  },
};
