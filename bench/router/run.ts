// `pnpm bench:router`: this router against a plain @apollo/gateway over the same subgraphs, side by
// side in one run on one machine. Absolute numbers depend on the machine; the ratios are the result.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { dropDatabase, ensureDatabase, repoRoot, startStack } from '../../scripts/stack.ts';
import { errorCount, runRound, type LoadOptions, type Target } from './load.ts';
import { findByCommand, findChildren, isRunning, rssMb, startCpuMeter, type ProcessGroups } from './procs.ts';
import { buildReport, formatReport, formatRound, summarize, summaryLine, type Measured } from './report.ts';
import { checkSameData, seed } from './seed.ts';

interface Options {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not "${value}"`);
  return parsed;
}

/** Flags win over the environment, which wins over the defaults. */
function readOptions(): Options {
  const { values } = parseArgs({
    options: { connections: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, rounds: { type: 'string' } },
    // pnpm passes a lone `--` through when flags follow the script name.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
  });
  const env = process.env;
  return {
    connections: positiveInt('connections', values.connections ?? env['BENCH_CONNECTIONS'], 20),
    durationSeconds: positiveInt('duration', values.duration ?? env['BENCH_DURATION'], 10),
    warmupSeconds: positiveInt('warmup', values.warmup ?? env['BENCH_WARMUP'], 3),
    rounds: positiveInt('rounds', values.rounds ?? env['BENCH_ROUNDS'], 2),
  };
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** A base port whose next ten ports are free, away from the development (4000) and test (20000-39999) stacks. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * 1_500) * 10;
    const checks = await Promise.all(Array.from({ length: 10 }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error('no free ports for the benchmark stack');
}

async function waitForHttp(url: string, isAlive: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the process serving ${url} exited before it was ready`);
    if (await fetch(url, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

async function startPlainGateway(env: Record<string, string>, port: number, logFile: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'plain-gateway.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = () =>
    new Promise<void>((done) => {
      if (!alive()) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/health`, alive, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/graphql`, stop };
}

/** Clean-up steps, run last-in first-out exactly once, each one even when another fails. */
function cleanupStack() {
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

async function deleteRedisKeys(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

async function measure(target: Target, load: LoadOptions, processes: ProcessGroups, gatewayPid: number): Promise<Measured> {
  // PostgreSQL is shared with anything else on the machine, so its column is every backend's.
  const cpuSince = startCpuMeter({ ...processes, postgres: findByCommand('postgres') });
  const result = await runRound(target, load);
  // Its errors would otherwise read as the gateway's own failures.
  if (!isRunning(gatewayPid)) throw new Error(`the ${target.name} gateway (pid ${gatewayPid}) exited during the round: see its log`);
  return { ...result, cpu: cpuSince(), gatewayRssMb: rssMb(gatewayPid) };
}

/** Warms each target up, then measures them in turns (A, B, A, B, ...) so that drift hits both. */
async function compare(targets: Target[], options: Options, token: string, processes: ProcessGroups, gatewayPids: Record<string, number>) {
  for (const target of targets) {
    process.stdout.write(`warming up ${target.name} for ${options.warmupSeconds} s\n`);
    await runRound(target, { connections: options.connections, durationSeconds: options.warmupSeconds, token });
  }
  const measured: Measured[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const result = await measure(target, { connections: options.connections, durationSeconds: options.durationSeconds, token }, processes, gatewayPids[target.name] ?? 0);
      process.stdout.write(`${formatRound(round, result)}\n`);
      if (result.firstBadBody) process.stdout.write(`  first bad body: ${result.firstBadBody}\n`);
      measured.push(result);
    }
  }
  return measured;
}

async function main(): Promise<number> {
  const options = readOptions();
  const runId = randomBytes(4).toString('hex');
  const databaseUrl = `${process.env['BENCH_DATABASE_SERVER'] ?? 'postgresql://postgres@127.0.0.1:5432'}/mindweave_bench_${runId}`;
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `mwbench:${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-bench-${runId}-`));
  const cleanup = cleanupStack();
  let failed = true;
  const onSignal = () => void cleanup.runAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await ensureDatabase(databaseUrl);
    cleanup.add('drop database', () => dropDatabase(databaseUrl));
    cleanup.add('delete Redis keys', () => deleteRedisKeys(redisUrl, redisKeyPrefix));
    const basePort = await freeBasePort();
    process.stdout.write(`bench ${runId}: database ${databaseUrl}, ports ${basePort}-${basePort + 9}, logs ${logDir}\n`);
    const stack = await startStack({
      basePort,
      databaseUrl,
      redisUrl,
      logDir,
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        REDIS_KEY_PREFIX: redisKeyPrefix,
        INTERNAL_SIGNING_SECRET: randomBytes(32).toString('base64url'),
        // Rate limiting and cost analysis stay on, as in production, with limits this run never reaches.
        RATE_LIMIT_PER_MINUTE: '100000000',
        API_KEY_RATE_LIMIT_PER_MINUTE: '100000000',
        COST_BUDGET_PER_MINUTE: '1000000000',
        MAX_OPERATION_COST: '100000',
      },
    });
    cleanup.add('stop stack', () => stack.stop());

    const seeded = await seed(stack.routerUrl, runId);
    const plain = await startPlainGateway(
      { ...stack.env, SUPERGRAPH_PATH: join(repoRoot, 'schema/supergraph.graphql'), BENCH_USER_ID: seeded.userId },
      basePort + 5,
      join(logDir, 'plain-gateway.log'),
    );
    cleanup.add('stop plain gateway', () => plain.stop());

    const targets: Target[] = [
      { name: 'mindweave', url: stack.routerUrl },
      { name: 'plain', url: plain.url },
    ];
    await checkSameData(Object.fromEntries(targets.map((t) => [t.name, t.url])), seeded.accessToken);
    process.stdout.write('both targets answer the benchmark query with the same data\n');

    const entries = { router: 'router/main.ts', plain: 'bench/router/plain-gateway.ts', identity: 'subgraphs/identity/main.ts', accounts: 'subgraphs/accounts/main.ts' };
    const children = findChildren(entries);
    const missing = Object.keys(entries).filter((name) => !(name in children));
    if (missing.length) throw new Error(`cannot find the process of ${missing.join(', ')} among this process' children`);
    const processes: ProcessGroups = { ...Object.fromEntries(Object.entries(children).map(([name, pid]) => [name, [pid]])), 'load generator': [process.pid] };
    const gatewayPids = { mindweave: children['router'] ?? 0, plain: children['plain'] ?? 0 };
    const measured = await compare(targets, options, seeded.accessToken, processes, gatewayPids);

    const report = buildReport(
      summarize(measured.filter((r) => r.target === 'mindweave')),
      summarize(measured.filter((r) => r.target === 'plain')),
      {
        connections: options.connections,
        durationS: options.durationSeconds,
        rounds: options.rounds,
        plainFetcher: process.env['BENCH_PLAIN_FETCHER'] ?? 'default',
        node: process.version,
        cpus: cpus().length,
      },
    );
    process.stdout.write(formatReport(report));
    const errors = measured.reduce((sum, r) => sum + errorCount(r), 0);
    if (errors > 0) {
      process.stderr.write(`\nFAILED: ${errors} failed requests (non-2xx, connection errors, timeouts or GraphQL errors); the numbers above are not valid\n`);
    }
    process.stdout.write(`${summaryLine(report)}\n`);
    failed = errors > 0;
  } catch (error) {
    process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    await cleanup.runAll();
    // Logs are kept when something went wrong: they are where the reason is.
    if (failed) process.stderr.write(`services' logs kept in ${logDir}\n`);
    else await rm(logDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
