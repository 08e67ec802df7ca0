import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { developmentSecretsKey } from './secrets.ts';

/** Settings every service reads. Each service extends this with its own in its `env.ts`. */
export const baseEnv = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgresql://postgres@127.0.0.1:5432/mindweave'),
  /** PostgreSQL connections each process may hold at once (its Prisma pool). */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(10),
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
  // Kafka's settings depend on each other (SASL needs credentials, a CA file must be readable).
  if ('KAFKA_BROKERS' in shape) kafkaSettingsOf(z.object(kafkaEnv).parse(source));
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

/** A comma-separated list, its items trimmed and empty ones left out. */
export const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

/** Kafka brokers (`host:port,host:port`); without them the event log runs on Redis Streams. */
export const kafkaBrokers = commaList('');

/** How to reach a Kafka cluster, and how the topics the services create are laid out. */
export interface KafkaSettings {
  brokers: string[];
  /** TLS to the brokers: true for the system's CAs, or the PEM of the CA to trust. */
  ssl?: true | { ca: string };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Partitions of each topic the services create (one organization's events stay on one). */
  topicPartitions: number;
  /** Copies of each partition; 1 only for a single-broker development cluster. */
  replicationFactor: number;
}

/** The Kafka settings every service that publishes or consumes events reads (README: Configuration). */
export const kafkaEnv = {
  KAFKA_BROKERS: kafkaBrokers,
  KAFKA_SSL: flag(false),
  /** A PEM file of the CA that signed the brokers' certificates; implies KAFKA_SSL. */
  KAFKA_SSL_CA_FILE: z.string().optional(),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(6),
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).default(3),
};

type KafkaEnv = z.infer<z.ZodObject<typeof kafkaEnv>>;

/**
 * The Kafka settings of a parsed environment, or undefined without brokers (Redis Streams). Throws
 * a ConfigError for SASL without a username and password, or a CA file that cannot be read.
 */
export function kafkaSettingsOf(env: KafkaEnv): KafkaSettings | undefined {
  if (env.KAFKA_BROKERS.length === 0) return undefined;
  const problems: string[] = [];
  let ssl: KafkaSettings['ssl'];
  if (env.KAFKA_SSL_CA_FILE) {
    try {
      ssl = { ca: readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8') };
    } catch (error) {
      problems.push(`KAFKA_SSL_CA_FILE: cannot be read (${(error as Error).message})`);
    }
  } else if (env.KAFKA_SSL) ssl = true;
  let sasl: KafkaSettings['sasl'];
  if (env.KAFKA_SASL_MECHANISM) {
    if (!env.KAFKA_SASL_USERNAME) problems.push('KAFKA_SASL_USERNAME: missing (KAFKA_SASL_MECHANISM is set)');
    if (!env.KAFKA_SASL_PASSWORD) problems.push('KAFKA_SASL_PASSWORD: missing (KAFKA_SASL_MECHANISM is set)');
    sasl = { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' };
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    brokers: env.KAFKA_BROKERS,
    ssl,
    sasl,
    topicPartitions: env.KAFKA_TOPIC_PARTITIONS,
    replicationFactor: env.KAFKA_REPLICATION_FACTOR,
  };
}

/** A port number from the environment. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
