export {
  DateTimeScalar,
  JSONScalar,
  requireUserId,
  subgraphBuilderOptions,
  type SubgraphContext,
  type SubgraphSchemaTypes,
} from './builder.ts';
export { createPgAdapter, createPgPool, isUniqueViolation, type Sql } from './db.ts';
export { migrate, readEveryModel } from './migrations.ts';
export { isUuid, uuidPattern, uuidSchema } from './ids.ts';
export {
  connectionListSize,
  decodeCursor,
  defaultPageSize,
  encodeCursor,
  keysetConnection,
  newestFirst,
  pageSize,
  type ConnectionArgs,
  type CursorKey,
  type Keyed,
  type Page,
  type PageInfo,
} from './pagination.ts';
export { startOutboxRelay } from './outbox.ts';
export { serviceRoute, startSubgraphServer, type ExtraRoute, type SubgraphServerOptions } from './server.ts';
