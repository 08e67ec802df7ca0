/** The benchmark's one operation, as graphql-hive/graphql-gateways-benchmark sends it. */
export const testQuery = /* GraphQL */ `
  fragment User on User {
    id
    username
    name
  }

  fragment Review on Review {
    id
    body
  }

  fragment Product on Product {
    inStock
    name
    price
    shippingEstimate
    upc
    weight
  }

  query TestQuery {
    users {
      ...User
      reviews {
        ...Review
        product {
          ...Product
          reviews {
            ...Review
            author {
              ...User
              reviews {
                ...Review
                product {
                  ...Product
                }
              }
            }
          }
        }
      }
    }
    topProducts {
      ...Product
      reviews {
        ...Review
        author {
          ...User
          reviews {
            ...Review
            product {
              ...Product
            }
          }
        }
      }
    }
  }
`;

export const testRequestBody = JSON.stringify({ query: testQuery, operationName: 'TestQuery' });

/**
 * `count` operations that are new to a gateway: TestQuery with its two root fields under aliases
 * numbered `i`, so that each is a different document (parsed, validated, analyzed and planned
 * anew) asking for the same work.
 */
export function distinctOperations(count: number, seed: string): { body: string; name: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const query = testQuery
      .replace('    users {', `    users_${seed}_${i}: users {`)
      .replace('    topProducts {', `    topProducts_${seed}_${i}: topProducts {`);
    return { name: `TestQuery #${i}`, body: JSON.stringify({ query, operationName: 'TestQuery' }) };
  });
}
