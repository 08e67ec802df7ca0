import { z } from 'zod';
import { developmentSecretsKey } from './secrets.ts';

/** Settings every service reads. Each service extends this with its own in its `env.ts`. */
export const baseEnv = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgresql://postgres@127.0.0.1:5432/mindweave'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key, so that several deployments (or test runs) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default('mw:'),
  /** HMAC key with which the router signs the identity it forwards to subgraphs. */
  INTERNAL_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').default('development-only-internal-signing-secret'),
};

/** Settings, as parsed, whose development defaults a production process must not run with. */
const developmentDefaults: Record<string, (value: unknown) => boolean> = {
  INTERNAL_SIGNING_SECRET: (value) => value === baseEnv.INTERNAL_SIGNING_SECRET.parse(undefined),
  // Sealing with the development key in production is refused; keeping it to open old values is not.
  SECRETS_KEY: (value) => (value as Buffer[])[0]?.equals(Buffer.from(developmentSecretsKey, 'base64')) ?? true,
};

/** `true`/`false` (or 1/0) from the environment. */
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates `source` (process.env by default) against `shape`. Throws a ConfigError naming every
 * bad or missing variable; `loadEnvOrExit` prints that and exits 1, for `main`s.
 */
export function parseEnv<S extends z.ZodRawShape>(shape: S, source: Record<string, string | undefined> = process.env) {
  const schema = z.object(shape);
  const result = schema.safeParse(source);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const value = source[name];
        return value === undefined ? `${name}: missing (${issue.message})` : `${name}: ${issue.message}`;
      }),
    );
  }
  if ((result.data as Record<string, unknown>)['NODE_ENV'] === 'production') {
    const unset = Object.entries(developmentDefaults)
      .filter(([name, isDevelopmentValue]) => name in shape && isDevelopmentValue((result.data as Record<string, unknown>)[name]))
      .map(([name]) => `${name}: must be set in production`);
    if (unset.length) throw new ConfigError(unset);
  }
  return result.data;
}

export function loadEnvOrExit<S extends z.ZodRawShape>(shape: S): z.infer<z.ZodObject<S>> {
  try {
    return parseEnv(shape);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Kafka brokers (`host:port,host:port`); without them the event log runs on Redis Streams. */
export const kafkaBrokers = z
  .string()
  .default('')
  .transform((value) => value.split(',').map((s) => s.trim()).filter(Boolean));

/** A port number from the environment. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
