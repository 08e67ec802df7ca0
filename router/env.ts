import { join } from 'node:path';
import { z } from 'zod';
import { baseEnv, commaList, flag, kafkaEnv, loadEnvOrExit, packageRoot, port } from '@mindweave/service-kit';

// Files of the repository the router reads by default: its layout is kept in the image (Dockerfile).
const root = packageRoot(import.meta.url);

/** `name=url,name=url` as a map, each url checked. */
const namedUrls = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const entries = value
        .split(',')
        .filter(Boolean)
        .map((pair) => pair.split('=', 2) as [string, string | undefined]);
      for (const [name, url] of entries) {
        if (!url || !URL.canParse(url)) ctx.addIssue({ code: 'custom', message: `"${name}" needs name=url with a valid URL` });
      }
      return new Map(entries.map(([name, url]) => [name, url ?? '']));
    });

export const routerEnv = {
  ...baseEnv,
  PORT: port(4000),
  HOST: z.string().default('0.0.0.0'),
  SUPERGRAPH_PATH: z.string().default(join(root, '../schema/supergraph.graphql')),
  /** `file`: SUPERGRAPH_PATH, reloaded when it changes; `registry`: the newest version `pnpm schema publish` recorded (polled), the file until there is one. */
  SUPERGRAPH_SOURCE: z.enum(['file', 'registry']).default('file'),
  SUPERGRAPH_POLL_MS: z.coerce.number().int().min(100).default(2_000),
  /** Replaces routing URLs of the supergraph: `identity=http://10.0.0.5:4001/graphql,accounts=...`. */
  SUBGRAPH_URLS: namedUrls(''),
  /**
   * The services without a GraphQL endpoint whose health `/health` reports (consumers, workers):
   * `name=url` of each one's health server. The subgraphs' come from their routing URLs.
   */
  SERVICE_HEALTH_URLS: namedUrls(
    'analytics-consumer=http://127.0.0.1:4013,governance-consumer=http://127.0.0.1:4015,workers=http://127.0.0.1:4014',
  ),
  IDENTITY_JWKS_URL: z.url().default('http://127.0.0.1:4001/.well-known/jwks.json'),
  ACCOUNTS_INTERNAL_URL: z.url().default('http://127.0.0.1:4002'),
  /** How long a resolved API key is cached in Redis; a revocation also evicts it at once. */
  API_KEY_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
  ...kafkaEnv,
  /** The largest request body, and the largest WebSocket message. */
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(100),
  /** How often a WebSocket connection's API key is checked again; a revoked key closes it with 4403. */
  SUBSCRIPTION_KEY_RECHECK_SECONDS: z.coerce.number().int().min(1).default(30),
  /** Every fetch to a subgraph is abandoned after this long. */
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(10).default(10_000),
  /** `router`: this router's executor of the query plans (plan-executor.ts); `apollo`: @apollo/gateway's. */
  QUERY_PLAN_EXECUTOR: z.enum(['router', 'apollo']).default('router'),
  /** Identical subgraph queries in flight for the same caller share one request. */
  SUBGRAPH_DEDUPLICATION: flag(true),
  /** Operation and field usage, counted per operation and client and sent to the event log each interval (usage-reporting.ts). */
  USAGE_REPORTING: flag(true),
  USAGE_REPORTING_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  /** Distinct operation and client pairs one interval holds; more are dropped and counted. */
  USAGE_REPORTING_MAX_OPERATIONS: z.coerce.number().int().min(1).default(10_000),

  // Demand control (README: "Query cost").
  MAX_OPERATION_COST: z.coerce.number().int().min(1).default(5_000),
  DEFAULT_LIST_SIZE: z.coerce.number().int().min(1).default(10),
  /** Estimated cost each identity may spend per minute. */
  COST_BUDGET_PER_MINUTE: z.coerce.number().int().min(1).default(100_000),

  // Rate limits (README: "Rate limits"), sliding windows of one minute.
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1_000),
  API_KEY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  AUTH_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  AUTH_BLOCK_SECONDS: z.coerce.number().int().min(1).default(900),

  // Document limits.
  MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  MAX_ROOT_FIELDS: z.coerce.number().int().min(1).default(20),
  MAX_TOKENS: z.coerce.number().int().min(10).default(5_000),
  /** Batched requests (a JSON array of operations): off unless set to the largest batch allowed. */
  MAX_BATCH_SIZE: z.coerce.number().int().min(0).default(0),

  /** `apq`: automatic persisted queries plus the manifest; `safelist`: only the manifest's operations. */
  PERSISTED_QUERIES: z.enum(['apq', 'safelist']).default('apq'),
  /** Trusted documents (hash -> document), written by the SDK's build. */
  PERSISTED_QUERIES_MANIFEST: z.string().default(join(root, '../packages/sdk/persisted-documents.json')),
  /** Root fields whose GET persisted queries may be cached publicly, when asked anonymously. */
  PUBLIC_CACHE_FIELDS: commaList('mcpServers').transform((items) => new Set(items)),
  PUBLIC_CACHE_MAX_AGE_SECONDS: z.coerce.number().int().min(0).default(60),

  /** Scopes a signed-in user holds; API keys hold the scopes they were created with. */
  USER_SCOPES: commaList('usage:read,projects:read,policies:read,mcp:read,mcp:write,exports:write').transform((items) => new Set(items)),

  /**
   * HTTP Basic credentials of the queue dashboard at /admin/queues (admin.ts): admin/admin outside
   * production; in production there is no default, and without them the dashboard stays locked.
   */
  ADMIN_USER: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(1).optional(),

  /** The dashboard's build (apps/dashboard), served at /dashboard/; its ide.html is the IDE. */
  DASHBOARD_DIR: z.string().default(join(root, '../apps/dashboard/dist')),
  /** GraphiQL at GET /graphql for browsers (ide.ts): on outside production, off in production unless set. */
  GRAPHQL_IDE: z.enum(['true', 'false', '1', '0']).optional(),
  /** Where the start command keeps the demo tenant; in development the IDE starts with its API key. */
  GRAPHQL_IDE_DEMO_FILE: z.string().default(join(root, '../.mindweave/demo.json')),
};

/** GRAPHQL_IDE when set, otherwise on everywhere but production. */
export const ideEnabled = (env: { NODE_ENV: string; GRAPHQL_IDE?: string | undefined }) =>
  env.GRAPHQL_IDE === undefined ? env.NODE_ENV !== 'production' : env.GRAPHQL_IDE === 'true' || env.GRAPHQL_IDE === '1';

export type RouterEnv = z.infer<z.ZodObject<typeof routerEnv>>;

export const loadRouterEnv = () => loadEnvOrExit(routerEnv);
