import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { startSmtpSink } from '../scripts/smtp-sink.ts';
import { freePortRange } from '../scripts/ports.ts';
import { dropDatabase, ensureDatabase, startStack } from '../scripts/stack.ts';

export interface StackInfo {
  routerUrl: string;
  basePort: number;
  databaseUrl: string;
  redisUrl: string;
  logDir: string;
  /** The SMTP sink's folder (messages.jsonl, <id>.eml) and its page. */
  mailDir: string;
  mailUiUrl: string;
  env: Record<string, string>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject) {
  const runId = randomBytes(4).toString('hex');
  const databaseUrl = `${process.env['TEST_DATABASE_SERVER'] ?? 'postgresql://postgres@127.0.0.1:5432'}/mindweave_test_${runId}`;
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const keyPrefix = `mwtest:${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-test-${runId}-`));
  // Twenty ports from a base, away from the development ports 4000-4019.
  const basePort = await freePortRange(20, 20_000, 40_000);
  await ensureDatabase(databaseUrl);
  const mail = await startSmtpSink({ smtpPort: 0, uiPort: 0, dir: join(logDir, 'mail') });

  const stack = await startStack({
    basePort,
    databaseUrl,
    redisUrl,
    logDir,
    // debug logs carry GraphQL variables, so that the redaction test has something to check.
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'debug',
      REDIS_KEY_PREFIX: keyPrefix,
      // Twelve processes on the machine's PostgreSQL, whose 100 connections the tests and any
      // other stack share: four each is ample for the tests' load.
      DATABASE_POOL_MAX: '4',
      API_KEY_CACHE_TTL_SECONDS: '5',
      INTERNAL_SIGNING_SECRET: randomBytes(32).toString('hex'),
      // Production-mode routers started by tests need the queue dashboard's credentials.
      ADMIN_USER: 'admin',
      ADMIN_PASSWORD: randomBytes(16).toString('hex'),
      // Every test client comes from 127.0.0.1: the limits are tested on routers of their own.
      RATE_LIMIT_PER_MINUTE: '1000000',
      API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_RATE_LIMIT_PER_MINUTE: '1000000',
      COST_BUDGET_PER_MINUTE: '1000000000',
      SMTP_URL: mail.smtpUrl,
      EXPORTS_DIR: join(logDir, 'exports'),
      SUBSCRIPTION_KEY_RECHECK_SECONDS: '1',
      // A rotated key's old secret works this long here (24 h by default), so that its end can be seen.
      API_KEY_ROTATION_GRACE_SECONDS: '4',
      // Retries within a test's patience: 200 ms, 400 ms, 800 ms...
      JOBS_BACKOFF_MS: '200',
      // Usage reports every half second instead of every minute, so that a test sees its operations.
      USAGE_REPORTING_INTERVAL_MS: '500',
      // The organization whose owners and admins see schema usage; e2e/schema-usage.e2e.ts creates it.
      PLATFORM_ORGANIZATION_ID: randomUUID(),
    },
  }).catch(async (error: unknown) => {
    await mail.close();
    await dropDatabase(databaseUrl);
    throw error;
  });
  process.stdout.write(`test stack: router ${stack.routerUrl}, database ${databaseUrl}, logs ${logDir}\n`);
  project.provide('stack', {
    routerUrl: stack.routerUrl,
    basePort,
    databaseUrl,
    redisUrl,
    logDir,
    mailDir: mail.dir,
    mailUiUrl: mail.uiUrl,
    env: stack.env,
  });

  return async () => {
    await stack.stop();
    await mail.close();
    await dropDatabase(databaseUrl);
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    if (!process.env['KEEP_TEST_LOGS']) await rm(logDir, { recursive: true, force: true });
  };
}
