import { randomBytes } from 'node:crypto';
// What every benchmark runner needs around its measurements: options, ports, child processes that
// are ready before they are measured, and clean-up that runs exactly once whatever happens.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not "${value}"`);
  return parsed;
}

export const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** `count` consecutive free ports in 40000-59999, away from the development (4000) and test (20000-39999) stacks. */
export async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * Math.floor(20_000 / count - 1)) * count;
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return ports;
  }
  throw new Error(`no ${count} free ports in a row`);
}

/** True when a GET of `url` answers 2xx within a second. */
export const httpOk = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
    (r) => r.ok,
    () => false,
  );

/** Polls `ready` until it is true; fails when the process behind it exits or time runs out. */
export async function waitUntilReady(what: string, ready: () => Promise<boolean>, isAlive: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the process serving ${what} exited before it was ready`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
}

export const waitForHttp = (url: string, isAlive: () => boolean, timeoutMs: number) =>
  waitUntilReady(url, () => httpOk(url), isAlive, timeoutMs);

/** Clean-up steps, run last-in first-out exactly once, each one even when another fails. */
export function cleanupStack() {
  const steps: { name: string; run: () => Promise<unknown> }[] = [];
  let done: Promise<void> | null = null;
  return {
    add: (name: string, run: () => Promise<unknown>) => void steps.push({ name, run }),
    runAll: () =>
      (done ??= (async () => {
        for (const step of steps.reverse()) {
          await step.run().catch((error: unknown) => process.stderr.write(`clean-up "${step.name}" failed: ${String(error)}\n`));
        }
      })()),
  };
}

export async function deleteRedisKeys(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

export interface StartedProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  alive: () => boolean;
  stop: () => Promise<void>;
}

/**
 * Starts `command args` with its output in `logFile` and resolves once `ready` holds (a GET of a
 * URL answering 2xx, with `httpOk`); stop() sends SIGTERM, then SIGKILL after `killAfterMs`.
 */
export async function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  ready: () => Promise<boolean>;
  logFile: string;
  readyTimeoutMs?: number;
  killAfterMs?: number;
}): Promise<StartedProcess> {
  const child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(options.logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = () =>
    new Promise<void>((done) => {
      if (!alive()) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 8_000).unref();
    });
  try {
    if (child.pid === undefined) throw new Error(`${options.name} could not be started`);
    await waitUntilReady(options.name, options.ready, alive, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: options.name, child, pid: child.pid, alive, stop };
}

/**
 * The environment of a stack under load: production mode, its own Redis prefix, and rate limiting
 * and cost analysis on, as in production, with limits a benchmark never reaches.
 */
export function benchStackEnv(redisKeyPrefix: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    ADMIN_USER: 'bench',
    ADMIN_PASSWORD: randomBytes(16).toString('hex'),
    INTERNAL_SIGNING_SECRET: randomBytes(32).toString('base64url'),
    SECRETS_KEY: randomBytes(32).toString('base64'),
    REDIS_KEY_PREFIX: redisKeyPrefix,
    RATE_LIMIT_PER_MINUTE: '100000000',
    API_KEY_RATE_LIMIT_PER_MINUTE: '100000000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000000',
    COST_BUDGET_PER_MINUTE: '1000000000',
    ...overrides,
  };
}
