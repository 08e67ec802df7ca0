// This router as the benchmark and the compatibility suite run it: `node --import tsx router/main.ts`
// over a foreign supergraph, in production mode, authentication on, limits out of the way.
import { randomBytes } from 'node:crypto';
import { commandOf, preloadOf, repoRoot, runFrom, services, startService } from '../../scripts/stack.ts';
import { startProcess } from '../lib/harness.ts';

export interface RouterOptions {
  port: number;
  supergraphPath: string;
  /** Routing URL overrides by subgraph name (SUBGRAPH_URLS). */
  subgraphUrls: Record<string, string>;
  jwksUrl: string;
  redisUrl: string;
  /** Unique per run: every key the router writes is under it, and the runner deletes them. */
  redisKeyPrefix: string;
  signingSecret: string;
  logFile: string;
  env?: Record<string, string>;
  /** false: without the tracing preload, as a build without it would run (bench:tracing's baseline). */
  preload?: boolean;
}

const router = services.find((service) => service.name === 'router');

/** Starts the router and resolves once /health/ready answers (Redis and the JWKS reachable). */
export async function startRouter(options: RouterOptions) {
  if (!router) throw new Error('scripts/stack.ts lists no router');
  // High enough never to refuse a benchmark request, while every check still runs.
  const limit = '100000000';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(options.port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    INTERNAL_SIGNING_SECRET: options.signingSecret,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.redisKeyPrefix,
    SUPERGRAPH_SOURCE: 'file',
    SUPERGRAPH_PATH: options.supergraphPath,
    SUBGRAPH_URLS: Object.entries(options.subgraphUrls)
      .map(([name, url]) => `${name}=${url}`)
      .join(','),
    IDENTITY_JWKS_URL: options.jwksUrl,
    // No API key is ever sent; this only keeps the router away from a development stack's accounts.
    ACCOUNTS_INTERNAL_URL: new URL(options.jwksUrl).origin,
    RATE_LIMIT_PER_MINUTE: limit,
    API_KEY_RATE_LIMIT_PER_MINUTE: limit,
    AUTH_RATE_LIMIT_PER_MINUTE: limit,
    COST_BUDGET_PER_MINUTE: '100000000000',
    MAX_OPERATION_COST: limit,
    MAX_DEPTH: '50',
    // The queue dashboard's credentials, which production requires; nothing here uses it.
    ADMIN_USER: 'bench',
    ADMIN_PASSWORD: randomBytes(24).toString('base64url'),
    ...options.env,
  };
  if (options.preload === false) {
    const from = runFrom();
    const command = commandOf(router, from);
    const at = command.indexOf(preloadOf(router, from));
    const bare = await startProcess({
      name: 'router',
      command: process.execPath,
      args: [...router.nodeArgs, ...command.filter((_, i) => i !== at && i !== at - 1)],
      cwd: repoRoot,
      env,
      ready: () =>
        fetch(`http://127.0.0.1:${options.port}/health/ready`).then(
          (r) => r.ok,
          () => false,
        ),
      logFile: options.logFile,
    });
    return { url: `http://127.0.0.1:${options.port}/graphql`, pid: bare.pid, stop: bare.stop };
  }
  const started = await startService(router, env, {
    port: options.port,
    logFile: options.logFile,
    readyPath: '/health/ready',
    readyTimeoutMs: 90_000,
  });
  if (started.child.pid === undefined) throw new Error('the router has no pid');
  return { url: `http://127.0.0.1:${options.port}/graphql`, pid: started.child.pid, stop: started.stop };
}
