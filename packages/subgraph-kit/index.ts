export { DateTimeScalar, JSONScalar, requireUserId, subgraphBuilderOptions, type SubgraphContext, type SubgraphSchemaTypes } from './builder.ts';
export { createPgAdapter, isUniqueViolation } from './db.ts';
export { migrate } from './migrations.ts';
export { startSubgraphServer, type ExtraRoute, type SubgraphServerOptions } from './server.ts';
