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

export function createLogger(options: { name: string; level: string; destination?: DestinationStream }): Logger {
  const settings: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
