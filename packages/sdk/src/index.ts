export { createMindWeaveClient, idempotentMutations, type Auth, type MindWeaveClient, type MindWeaveClientOptions } from './client.js';
export { errorCodes, MindWeaveError, type ErrorCode, type MindWeaveErrorDetails } from './errors.js';
export type { RetryOptions } from './retry.js';
export type { TypedDocumentNode } from '@graphql-typed-document-node/core';
// The SDK's operations (`MeDocument`, `RecordUsageDocument`, ...) with their result and variables types.
export * from './gql/graphql.js';
