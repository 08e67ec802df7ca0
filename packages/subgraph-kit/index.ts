export { DateTimeScalar, JSONScalar, requireUserId, subgraphBuilderOptions, type SubgraphContext, type SubgraphSchemaTypes } from './builder.ts';
export { createPgAdapter, createPgPool, isUniqueViolation, type Sql } from './db.ts';
export { migrate, readEveryModel } from './migrations.ts';
export { decodeCursor, encodeCursor, olderThan, pageOf, type Page } from './pagination.ts';
export { startOutboxRelay } from './outbox.ts';
export { serviceRoute, startSubgraphServer, type ExtraRoute, type SubgraphServerOptions } from './server.ts';
