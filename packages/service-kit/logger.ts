import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const sensitiveKeys = [
  'password',
  'newPassword',
  'passwordHash',
  'token',
  'accessToken',
  'refreshToken',
  'mfaToken',
  'mfaCode',
  'mfaSecret',
  'apiKey',
  'key',
  'secret',
  'authorization',
  'Authorization',
  'cookie',
  'x-api-key',
  'x-mw-signature',
];

// pino's redaction wildcards cover one level each, so list the depths at which these keys occur
// (log fields, request headers, GraphQL variables and their inputs).
const redactPaths = sensitiveKeys.flatMap((key) => {
  const last = /^\w+$/.test(key) ? `.${key}` : `["${key}"]`;
  return ['', '*', '*.*', '*.*.*'].map((prefix) => (prefix ? `${prefix}${last}` : last.replace(/^\./, '')));
});

/** What an error's log entry keeps besides type, message and stack: short facts, never objects. */
const errorFacts = [
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'detail',
  'hint',
  'severity',
  'routine',
  'table',
  'column',
  'constraint',
  'statusCode',
  'name',
];

/**
 * Errors as small log entries: type, message, stack, the short facts above, and their causes. The
 * standard serializer copies every property, and a pg or Prisma error holds its client, pool or
 * query (kilobytes a line, and what should not reach the logs).
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const entry: Record<string, unknown> = { type: error.constructor?.name ?? 'Error', message: error.message, stack: error.stack };
  for (const fact of errorFacts) {
    const value = (error as unknown as Record<string, unknown>)[fact];
    if ((typeof value === 'string' && value.length <= 500) || typeof value === 'number' || typeof value === 'boolean') entry[fact] = value;
  }
  if (depth < 3) {
    if (error.cause !== undefined) entry['cause'] = serializeError(error.cause, depth + 1);
    if (error instanceof AggregateError) entry['errors'] = error.errors.slice(0, 5).map((inner) => serializeError(inner, depth + 1));
  }
  return entry;
}

export function createLogger(options: { name: string; level: string; destination?: DestinationStream }): Logger {
  const settings: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError, error: serializeError },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
