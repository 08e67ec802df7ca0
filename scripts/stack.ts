import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

export const repoRoot = resolve(import.meta.dirname, '..');

/**
 * Settings of the processes that idle most of the time. V8: a heap that favours size over speed,
 * and Prisma's WebAssembly query compiler kept on V8's baseline compiler (optimizing it cost about
 * 64 MB a process). glibc: malloc's mmap threshold fixed at its start-up 128 KB; by default malloc
 * raises it to the size of each large block freed (start-up parsing, the WebAssembly), after which
 * large blocks come from its heap, whose pages it keeps once they are freed. Measured with
 * `pnpm bench:footprint`: a subgraph at idle from about 227 to 122 MB of RSS with the V8 flags, and
 * about 9 MB less with the threshold.
 */
const small = { nodeArgs: ['--optimize-for-size', '--liftoff-only'], runtimeEnv: { MALLOC_MMAP_THRESHOLD_: '131072' } } as const;

/** The processes of the supergraph, in start order: subgraphs first, then the router. */
export const services = [
  { name: 'identity', entry: 'subgraphs/identity/main.ts', portVar: 'IDENTITY_PORT', offset: 1, ...small },
  { name: 'accounts', entry: 'subgraphs/accounts/main.ts', portVar: 'ACCOUNTS_PORT', offset: 2, ...small },
  // The usage path turns 1,000-event batches into short-lived objects: a 32 MB semi-space lets them
  // die young instead of being promoted (bench:usage). Its Prisma asks only for the prices.
  {
    name: 'usage',
    entry: 'subgraphs/usage/main.ts',
    portVar: 'USAGE_PORT',
    offset: 3,
    nodeArgs: ['--max-semi-space-size=32', '--liftoff-only'],
  },
  { name: 'analytics', entry: 'subgraphs/analytics/main.ts', portVar: 'ANALYTICS_PORT', offset: 4, ...small },
  {
    name: 'analytics-consumer',
    entry: 'subgraphs/analytics/consumer.ts',
    portVar: 'CONSUMER_HEALTH_PORT',
    offset: 13,
    nodeArgs: ['--max-semi-space-size=32', '--liftoff-only'],
    background: true,
  },
  { name: 'mcp-registry', entry: 'subgraphs/mcp-registry/main.ts', portVar: 'MCP_REGISTRY_PORT', offset: 6, ...small },
  { name: 'governance', entry: 'subgraphs/governance/main.ts', portVar: 'GOVERNANCE_PORT', offset: 5, ...small },
  {
    name: 'governance-consumer',
    entry: 'subgraphs/governance/consumer.ts',
    portVar: 'GOVERNANCE_CONSUMER_HEALTH_PORT',
    offset: 15,
    ...small,
    background: true,
  },
  { name: 'exports', entry: 'subgraphs/exports/main.ts', portVar: 'EXPORTS_PORT', offset: 7, ...small },
  { name: 'webhooks', entry: 'subgraphs/webhooks/main.ts', portVar: 'WEBHOOKS_PORT', offset: 8, ...small },
  { name: 'workers', entry: 'workers/main.ts', portVar: 'WORKERS_HEALTH_PORT', offset: 14, ...small, background: true },
  // A 64 MB semi-space lets most of an in-flight plan's data die young instead of being promoted;
  // a 256 MB old space keeps V8 from growing the heap lazily to twice what it needs. Measured with
  // `pnpm bench:federation`: 5-10% more requests/s, and peak RSS ~320 MB instead of ~470 MB.
  {
    name: 'router',
    entry: 'router/main.ts',
    portVar: 'PORT',
    offset: 0,
    nodeArgs: ['--max-semi-space-size=64', '--max-old-space-size=256'],
  },
] as const;

export interface StackOptions {
  /** The router listens here; subgraph n on basePort + n. */
  basePort: number;
  databaseUrl: string;
  redisUrl: string;
  env?: Record<string, string>;
  /** Each service's output goes to <logDir>/<name>.log; without it, to this process' output. */
  logDir?: string;
  readyTimeoutMs?: number;
  /** Run the services packaged by scripts/image.sh in this folder (the containers' layout) instead of this checkout. */
  image?: string;
}

export async function checkPostgres(databaseUrl: string): Promise<string | null> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return null;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function checkRedis(redisUrl: string): Promise<string | null> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    redis.disconnect();
  }
}

/** Creates the database named in `databaseUrl` when it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(databaseUrl: string) {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function stackEnv(options: StackOptions): Record<string, string> {
  const port = (offset: number) => options.basePort + offset;
  return {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    PORT: String(port(0)),
    IDENTITY_PORT: String(port(1)),
    ACCOUNTS_PORT: String(port(2)),
    USAGE_PORT: String(port(3)),
    ANALYTICS_PORT: String(port(4)),
    CONSUMER_HEALTH_PORT: String(port(13)),
    MCP_REGISTRY_PORT: String(port(6)),
    GOVERNANCE_PORT: String(port(5)),
    GOVERNANCE_CONSUMER_HEALTH_PORT: String(port(15)),
    EXPORTS_PORT: String(port(7)),
    WEBHOOKS_PORT: String(port(8)),
    WORKERS_HEALTH_PORT: String(port(14)),
    IDENTITY_INTERNAL_URL: `http://127.0.0.1:${port(1)}`,
    // Download links point at the router, which serves them.
    EXPORTS_PUBLIC_URL: `http://127.0.0.1:${port(0)}`,
    // Local receivers are fine in development and tests; production keeps the default (false).
    WEBHOOKS_ALLOW_PRIVATE: 'true',
    IDENTITY_JWKS_URL: `http://127.0.0.1:${port(1)}/.well-known/jwks.json`,
    ACCOUNTS_INTERNAL_URL: `http://127.0.0.1:${port(2)}`,
    GOVERNANCE_INTERNAL_URL: `http://127.0.0.1:${port(5)}`,
    SERVICE_HEALTH_URLS: `analytics-consumer=http://127.0.0.1:${port(13)},governance-consumer=http://127.0.0.1:${port(15)},workers=http://127.0.0.1:${port(14)}`,
    SUBGRAPH_URLS: `identity=http://127.0.0.1:${port(1)}/graphql,accounts=http://127.0.0.1:${port(2)}/graphql,usage=http://127.0.0.1:${port(3)}/graphql,analytics=http://127.0.0.1:${port(4)}/graphql,mcp-registry=http://127.0.0.1:${port(6)}/graphql,governance=http://127.0.0.1:${port(5)}/graphql,exports=http://127.0.0.1:${port(7)}/graphql,webhooks=http://127.0.0.1:${port(8)}/graphql`,
    ...options.env,
  };
}

async function waitUntilReady(name: string, url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before it was ready`);
    const ready = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs} ms`);
}

export type Service = (typeof services)[number];

/**
 * Where services run from: `source` (TypeScript through tsx, workspace packages by their
 * `development` export condition: `npm start`) or `build` (`pnpm build`'s JavaScript with plain
 * node: production, and the test command). MW_RUN_FROM chooses; NODE_ENV=production means build.
 */
export const runFrom = (): 'source' | 'build' =>
  process.env['MW_RUN_FROM'] === 'build' || (process.env['MW_RUN_FROM'] !== 'source' && process.env['NODE_ENV'] === 'production')
    ? 'build'
    : 'source';

/** `subgraphs/usage/main.ts` runs as `subgraphs/usage/dist/main.js` from the build. */
export function builtEntryOf(entry: string): string {
  const packageDir = entry.startsWith('subgraphs/') ? entry.split('/').slice(0, 2).join('/') : entry.split('/')[0]!;
  return join(packageDir, 'dist', entry.slice(packageDir.length + 1).replace(/\.ts$/, '.js'));
}

/** The package a service's entry belongs to: `subgraphs/usage`, `router`, `workers`. */
export const packageOf = (service: Service) => builtEntryOf(service.entry).split('/dist/')[0]!;

/**
 * The tracing preload (@mindweave/telemetry/register) every service runs with, so that its
 * instrumentations patch modules before the service imports them; without OTEL_* settings it loads
 * nothing. From an image, the copy in the package's own node_modules (pnpm deploy puts it there).
 */
export function preloadOf(service: Service, from: 'source' | 'build' | 'image', image = '.'): string {
  if (from === 'image') return `${image === '.' ? '.' : image}/${packageOf(service)}/node_modules/@mindweave/telemetry/dist/register.js`;
  return join(repoRoot, from === 'build' ? 'packages/telemetry/dist/register.js' : 'packages/telemetry/register.ts');
}

/** The node arguments that run a service: its built entry, or its source through tsx; both with the tracing preload. */
export const commandOf = (service: Service, from: 'source' | 'build') =>
  from === 'build'
    ? ['--import', preloadOf(service, 'build'), join(repoRoot, builtEntryOf(service.entry))]
    : ['--conditions=development', '--import', 'tsx', '--import', preloadOf(service, 'source'), join(repoRoot, service.entry)];

/**
 * Starts one service as its own process and resolves once it answers /health/ready (or
 * /health/live with `readyPath`), with its output in `logFile` or this process' output.
 */
export async function startService(
  service: Service,
  env: NodeJS.ProcessEnv,
  options: { port: number; logFile?: string; readyPath?: string; readyTimeoutMs?: number; image?: string },
) {
  // MW_CPU_PROF_DIR=<dir>: every service writes a V8 CPU profile under <dir>/<service> when it exits.
  const nodeArgs = [
    ...service.nodeArgs,
    ...(process.env['MW_CPU_PROF_DIR'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['MW_CPU_PROF_DIR']}/${service.name}`] : []),
  ];
  // From a packaged image (scripts/image.sh), as its container runs: there, from the built entry.
  const command = options.image
    ? ['--import', preloadOf(service, 'image', options.image), join(options.image, builtEntryOf(service.entry))]
    : commandOf(service, runFrom());
  const child = spawn(process.execPath, [...nodeArgs, ...command], {
    cwd: options.image ?? repoRoot,
    env: { ...env, ...('runtimeEnv' in service ? service.runtimeEnv : {}) },
    stdio: options.logFile ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  // Background consumers yield the CPU to the request path when both want it (MW_BACKGROUND_NICE,
  // 10 unless set; 0 turns it off): the log holds what they have not read yet, and ingestion never
  // waits on aggregation.
  const nice = Number(process.env['MW_BACKGROUND_NICE'] ?? 10);
  if ('background' in service && service.background && child.pid !== undefined && nice > 0) {
    try {
      setPriority(child.pid, Math.min(19, nice));
    } catch {
      // Not permitted here: they simply share the CPU evenly.
    }
  }
  if (options.logFile) {
    const log = createWriteStream(options.logFile);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 8_000).unref();
    });
  try {
    await waitUntilReady(
      service.name,
      `http://127.0.0.1:${options.port}${options.readyPath ?? '/health/ready'}`,
      child,
      options.readyTimeoutMs ?? 60_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, stop };
}

/** Starts every service as its own process and resolves once each answers /health/ready. */
export async function startStack(options: StackOptions) {
  const env = { ...process.env, ...stackEnv(options) };
  if (options.logDir) await mkdir(options.logDir, { recursive: true });
  const running: (Awaited<ReturnType<typeof startService>> & { name: string })[] = [];
  const stop = async () => {
    await Promise.all(running.reverse().map((service) => service.stop()));
  };
  try {
    for (const service of services) {
      running.push({
        name: service.name,
        ...(await startService(service, env, {
          port: options.basePort + service.offset,
          logFile: options.logDir ? join(options.logDir, `${service.name}.log`) : undefined,
          readyTimeoutMs: options.readyTimeoutMs,
          image: options.image,
        })),
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    routerUrl: `http://127.0.0.1:${options.basePort}/graphql`,
    env: stackEnv(options),
    processes: running.map(({ name, child }) => ({ name, pid: child.pid! })),
    stop,
  };
}
