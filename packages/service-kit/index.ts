export {
  baseEnv,
  commaList,
  ConfigError,
  flag,
  kafkaEnv,
  kafkaSettingsOf,
  loadEnvOrExit,
  parseEnv,
  port,
  type KafkaSettings,
} from './config.ts';
export { createLogger, type Logger } from './logger.ts';
export {
  encodeIdentity,
  identityHeaders,
  postAsService,
  signIdentity,
  verifyIdentity,
  type Identity,
  type SignedBody,
} from './identity.ts';
export {
  callInternalRoute,
  internalRoute,
  InternalRouteError,
  nullOn404,
  type AnswerOf,
  type InternalCallOptions,
  type InternalRoute,
  type ParsedRequestOf,
  type RequestOf,
  type ResponseOf,
} from './internal-routes.ts';
export { createHealthRoutes, HealthCheckError, sendJson, type HealthCheck } from './health.ts';
export { closeServer, listen, onShutdown, requestIdFrom } from './process.ts';
export { createRedis } from './redis.ts';
export { readEndedSessions, recordEndedSessions } from './sessions.ts';
export { createSecretBox, resealSecrets, secretsKey, type SecretBox } from './secrets.ts';
export { packageRoot, siblingModule } from './paths.ts';
export { boundedLabel, createServiceMetrics, type ServiceMetrics } from './metrics.ts';
export { checkOut, inTransaction } from './transaction.ts';
