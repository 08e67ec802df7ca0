// `pnpm bench:mcp`: the latency of `mcpServers(search:)` through the router over 10,000 seeded
// servers, side by side with the same search run straight in PostgreSQL, in one run on one machine.
// The bar: p95 under 50 ms through the router. Flags (or BENCH_* variables): --servers, --requests,
// --clients.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dropDatabase, ensureDatabase, services, startStack } from '../../scripts/stack.ts';
import { benchStackEnv, deleteRedisKeys, portFree } from '../lib/harness.ts';
import { seedServers } from './seed.ts';

const barP95Ms = 50;
const pageSize = 20;

/** A mix of what people type: common words (thousands of matches), pairs, phrases, exclusions, `or`, tool names, rare words. */
const terms = [
  'github',
  'postgres queries',
  'slack notifications',
  'kubernetes deployments',
  'search_issues',
  'createInvoice',
  'logs or metrics',
  '"error tracking"',
  'stripe -invoices',
  'weather',
  'sentry alerts',
  'self-hosted backups',
  'terraform secrets toolkit',
  'dashboards',
  'spotify explorer',
  'nothing-matches-this',
];

const searchQuery = `query SearchServers($search: String!, $first: Int!) {
  mcpServers(search: $search, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id slug name description latestVersion { version transport tools { name } } } }
  }
}`;

interface Options {
  servers: number;
  requests: number;
  clients: number;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not "${value}"`);
  return parsed;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: { servers: { type: 'string' }, requests: { type: 'string' }, clients: { type: 'string' } },
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
  });
  const env = process.env;
  return {
    servers: positiveInt('servers', values.servers ?? env['BENCH_SERVERS'], 10_000),
    requests: positiveInt('requests', values.requests ?? env['BENCH_REQUESTS'], 400),
    clients: positiveInt('clients', values.clients ?? env['BENCH_CLIENTS'], 4),
  };
}

const portsNeeded = Math.max(...services.map((service) => service.offset)) + 1;

/** Away from the development (4000), test (20000-39999) and router benchmark (40000-59999) stacks. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 60_000 + Math.floor(Math.random() * 500) * 10;
    const checks = await Promise.all(Array.from({ length: portsNeeded }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error('no free ports for the benchmark stack');
}

type Body = { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] };

async function post(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Body> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as Body;
}

async function mustSucceed(url: string, query: string, variables: Record<string, unknown>, token?: string) {
  const body = await post(url, query, variables, token);
  if (body.errors?.length || !body.data) throw new Error(`${query.slice(0, 50)}... failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A user owning an organization, made through the router: the member whose private servers the seed adds. */
async function createMember(routerUrl: string, runId: string) {
  const registered = await mustSucceed(routerUrl, 'mutation ($input: RegisterInput!) { register(input: $input) { accessToken } }', {
    input: { email: `bench-${runId}@example.com`, password: 'a long benchmark password', name: 'Bench' },
  });
  const token = registered['register'].accessToken as string;
  const org = await mustSucceed(
    routerUrl,
    'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
    { input: { name: 'Bench', slug: `bench-${runId}` } },
    token,
  );
  return { token, organizationId: org['createOrganization'].id as string };
}

// What the subgraph runs for one search (subgraphs/mcp-registry/search.ts), as plain SQL: the
// ranked page with the count of all matches, then the page's servers with their latest versions
// and tools.
const pageSql = `
  WITH matches AS MATERIALIZED (
    SELECT s.id, s."createdAt", ts_rank(s."searchVector", q)::float8 AS rank
    FROM mcp_registry.mcp_servers s, websearch_to_tsquery('english', $1) q
    WHERE s."searchVector" @@ q AND (s.visibility = 'PUBLIC' OR s."organizationId" = ANY($2::uuid[]))
  )
  SELECT (SELECT count(*)::int FROM matches) AS total, page.*
  FROM (SELECT 1) AS always_one_row
  LEFT JOIN LATERAL (SELECT m.id, m."createdAt", m.rank FROM matches m ORDER BY m.rank DESC, m."createdAt" DESC, m.id DESC LIMIT $3) AS page ON true`;
const nodesSql = `
  SELECT s.id, s.slug, s.name, s.description, v.version, v.transport,
    (SELECT json_agg(t.name ORDER BY t.position) FROM mcp_registry.mcp_tools t WHERE t."versionId" = v.id) AS tools
  FROM mcp_registry.mcp_servers s LEFT JOIN mcp_registry.mcp_server_versions v ON v.id = s."latestVersionId"
  WHERE s.id = ANY($1::uuid[])`;

async function sqlSearch(db: pg.Pool, term: string, organizationIds: string[]) {
  const page = await db.query<{ id: string | null }>(pageSql, [term, organizationIds, pageSize + 1]);
  const ids = page.rows.flatMap((row) => (row.id ? [row.id] : [])).slice(0, pageSize);
  if (ids.length) await db.query(nodesSql, [ids]);
}

type Sample = { ms: number; ok: boolean };

/** `total` calls of `run(term)` over the terms in turn, by `clients` callers at once. */
async function drive(total: number, clients: number, run: (term: string) => Promise<boolean>): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const term = terms[next++ % terms.length]!;
        const started = performance.now();
        const ok = await run(term).catch(() => false);
        samples.push({ ms: performance.now() - started, ok });
      }
    }),
  );
  return samples;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

interface Row {
  name: string;
  samples: Sample[];
}

function stats(samples: Sample[]) {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    n: samples.length,
    errors: samples.filter((s) => !s.ok).length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(9);

function table(pairs: { router: Row; sql: Row }[]) {
  const lines = [
    `${'scenario'.padEnd(34)}${'n'.padStart(5)}${'err'.padStart(5)}${'p50'.padStart(9)}${'p95'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}   router/SQL p50, p95`,
  ];
  for (const { router, sql } of pairs) {
    const [r, s] = [stats(router.samples), stats(sql.samples)];
    for (const [row, st] of [
      [router, r],
      [sql, s],
    ] as const) {
      const ratio = row === router ? `   ${(r.p50 / s.p50).toFixed(1)}x, ${(r.p95 / s.p95).toFixed(1)}x` : '';
      lines.push(
        `${row.name.padEnd(34)}${String(st.n).padStart(5)}${String(st.errors).padStart(5)}${ms(st.p50)}${ms(st.p95)}${ms(st.p99)}${ms(st.max)}${ratio}`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const options = readOptions();
  const runId = randomBytes(4).toString('hex');
  const databaseUrl = `${process.env['BENCH_DATABASE_SERVER'] ?? 'postgresql://postgres@127.0.0.1:5432'}/mindweave_bench_mcp_${runId}`;
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `mwbench:${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-bench-mcp-${runId}-`));
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse())
      await step().catch((error: unknown) => process.stderr.write(`clean-up failed: ${String(error)}\n`));
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failed = true;
  try {
    await ensureDatabase(databaseUrl);
    cleanups.push(
      () => dropDatabase(databaseUrl),
      () => deleteRedisKeys(redisUrl, redisKeyPrefix),
    );
    const basePort = await freeBasePort();
    process.stdout.write(`bench ${runId}: database ${databaseUrl}, ports ${basePort}-${basePort + portsNeeded - 1}, logs ${logDir}\n`);
    const stack = await startStack({
      basePort,
      databaseUrl,
      redisUrl,
      logDir,
      env: benchStackEnv(redisKeyPrefix),
    });
    cleanups.push(() => stack.stop());

    const member = await createMember(stack.routerUrl, runId);
    const seeded = await seedServers(databaseUrl, options.servers, member.organizationId);
    process.stdout.write(
      `seeded ${seeded.servers} servers (${seeded.privateServers} private to the member's organization) and ${seeded.tools} tools in ${(seeded.ms / 1000).toFixed(1)} s\n`,
    );

    // Every term once, to check the answers (and show the mix) before timing anything.
    process.stdout.write('\nmatches per term (anonymous / member):\n');
    for (const term of terms) {
      const [anonymous, asMember] = await Promise.all([
        mustSucceed(stack.routerUrl, searchQuery, { search: term, first: pageSize }),
        mustSucceed(stack.routerUrl, searchQuery, { search: term, first: pageSize }, member.token),
      ]);
      const [a, m] = [anonymous['mcpServers'], asMember['mcpServers']];
      if (a.edges.length !== Math.min(a.totalCount, pageSize))
        throw new Error(`"${term}": ${a.edges.length} edges for a totalCount of ${a.totalCount}`);
      process.stdout.write(
        `  ${term.padEnd(28)} ${String(a.totalCount).padStart(5)} / ${String(m.totalCount).padStart(5)}   best: ${a.edges[0]?.node.name ?? '-'}\n`,
      );
    }

    const routerRun = (token?: string) => async (term: string) => {
      const body = await post(stack.routerUrl, searchQuery, { search: term, first: pageSize }, token);
      return !body.errors?.length && Boolean(body.data?.['mcpServers']);
    };
    const pool = new pg.Pool({ connectionString: databaseUrl, max: options.clients });
    cleanups.push(() => pool.end());
    const sqlRun = (organizationIds: string[]) => async (term: string) => {
      await sqlSearch(pool, term, organizationIds);
      return true;
    };

    // Warm-up: connections, plans, caches on both sides.
    await drive(terms.length * 4, 1, routerRun());
    await drive(terms.length * 4, 1, routerRun(member.token));
    await drive(terms.length * 4, 1, sqlRun([]));

    const n = options.requests;
    const c = options.clients;
    const pairs = [
      {
        router: { name: 'router, 1 client, anonymous', samples: await drive(n, 1, routerRun()) },
        sql: { name: 'SQL, 1 client', samples: await drive(n, 1, sqlRun([])) },
      },
      {
        router: { name: 'router, 1 client, member', samples: await drive(n, 1, routerRun(member.token)) },
        sql: { name: 'SQL, 1 client, member', samples: await drive(n, 1, sqlRun([member.organizationId])) },
      },
      {
        router: { name: `router, ${c} clients, anonymous`, samples: await drive(n, c, routerRun()) },
        sql: { name: `SQL, ${c} clients`, samples: await drive(n, c, sqlRun([])) },
      },
      {
        router: { name: `router, ${c} clients, member`, samples: await drive(n, c, routerRun(member.token)) },
        sql: { name: `SQL, ${c} clients, member`, samples: await drive(n, c, sqlRun([member.organizationId])) },
      },
    ];

    process.stdout.write(
      `\nmcpServers(search:, first: ${pageSize}) over ${options.servers} servers, ${terms.length} terms in turn; Node ${process.version}, ${cpus().length} CPUs\n`,
    );
    process.stdout.write(`SQL = the page-and-count and node queries the subgraph runs, straight on PostgreSQL\n\n${table(pairs)}\n\n`);
    const errors = pairs.reduce((sum, pair) => sum + stats(pair.router.samples).errors + stats(pair.sql.samples).errors, 0);
    const worstP95 = Math.max(...pairs.map((pair) => stats(pair.router.samples).p95));
    process.stdout.write(
      `bar: p95 through the router < ${barP95Ms} ms: ${worstP95 < barP95Ms ? 'met' : 'MISSED'} (worst scenario p95 ${worstP95.toFixed(1)} ms)\n`,
    );
    if (errors) process.stderr.write(`FAILED: ${errors} requests failed; the numbers above are not valid\n`);
    failed = errors > 0;
  } catch (error) {
    process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await cleanup();
    if (failed) process.stderr.write(`services' logs kept in ${logDir}\n`);
    else await rm(logDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
