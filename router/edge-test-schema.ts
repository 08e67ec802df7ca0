/** The cost and authorization directives as composition leaves them in a supergraph; for tests' schemas. */
export const supergraphDirectives = `
  directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | ARGUMENT_DEFINITION | SCALAR | ENUM
  directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
  directive @authenticated on FIELD_DEFINITION | OBJECT
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT
`;

/** A small schema with those directives; for the edge units' tests. */
export const edgeTestSupergraph = `${supergraphDirectives}
  type Query {
    me: User
    users(first: Int = 5): [User!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
    audit: Audit @requiresScopes(scopes: [["audit:read"]])
    expensive: Int @cost(weight: 50)
  }
  type Mutation { login(input: LoginInput!): String rename(name: String!): User }
  input LoginInput { email: String! password: String! }
  type User { id: ID! name: String! secret: String @authenticated friends: [User!]! @listSize(assumedSize: 3) }
  type Audit { entries: Int! }
`;

export const edgeTestEnv = {
  MAX_DEPTH: 6,
  MAX_ALIASES: 5,
  MAX_DIRECTIVES: 10,
  MAX_ROOT_FIELDS: 5,
  MAX_TOKENS: 1_000,
  DEFAULT_LIST_SIZE: 10,
  USER_SCOPES: new Set(['usage:read']),
};
