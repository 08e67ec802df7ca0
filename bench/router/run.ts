// `pnpm bench:router`: this router against a plain @apollo/gateway over the same subgraphs, side by
// side in one run on one machine. Absolute numbers depend on the machine; the ratios are the result.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dropDatabase, ensureDatabase, repoRoot, services, startStack } from '../../scripts/stack.ts';
import { benchStackEnv, cleanupStack, deleteRedisKeys, httpOk, portFree, positiveInt, startProcess } from '../lib/harness.ts';
import { errorCount, runRound, type LoadOptions, type Target } from './load.ts';
import { findByCommand, findChildren, isRunning, rssMb, startCpuMeter, type ProcessGroups } from '../lib/procs.ts';
import { buildReport, formatReport, formatRound, summarize, summaryLine, type Measured } from './report.ts';
import { checkSameData, seed } from './seed.ts';

interface Options {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
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

/** The stack takes basePort + each service's offset; the plain gateway the next port. */
const plainPortOffset = Math.max(...services.map((service) => service.offset)) + 1;

/** A base port with room for the stack and the plain gateway, away from the development (4000) and test (20000-39999) stacks. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * 1_000) * 20;
    const checks = await Promise.all(Array.from({ length: plainPortOffset + 1 }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error('no free ports for the benchmark stack');
}

async function startPlainGateway(env: Record<string, string>, port: number, logFile: string) {
  const started = await startProcess({
    name: 'plain gateway',
    command: process.execPath,
    args: ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'plain-gateway.ts')],
    env: { ...process.env, ...env, PORT: String(port) },
    cwd: repoRoot,
    ready: () => httpOk(`http://127.0.0.1:${port}/health`),
    logFile,
    readyTimeoutMs: 30_000,
    killAfterMs: 5_000,
  });
  return { url: `http://127.0.0.1:${port}/graphql`, stop: started.stop };
}

async function measure(target: Target, load: LoadOptions, processes: ProcessGroups, gatewayPid: number): Promise<Measured> {
  // PostgreSQL and Redis are shared with anything else on the machine: their columns are the servers'.
  const cpuSince = startCpuMeter({ ...processes, postgres: findByCommand('postgres'), redis: findByCommand('redis-server') });
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
      const result = await measure(
        target,
        { connections: options.connections, durationSeconds: options.durationSeconds, token },
        processes,
        gatewayPids[target.name] ?? 0,
      );
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
  const onSignal = () => {
    process.stderr.write(`\ninterrupted: stopping everything; services' logs kept in ${logDir}\n`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await ensureDatabase(databaseUrl);
    cleanup.add('drop database', () => dropDatabase(databaseUrl));
    cleanup.add('delete Redis keys', () => deleteRedisKeys(redisUrl, redisKeyPrefix));
    const basePort = await freeBasePort();
    process.stdout.write(`bench ${runId}: database ${databaseUrl}, ports ${basePort}-${basePort + plainPortOffset}, logs ${logDir}\n`);
    const stack = await startStack({
      basePort,
      databaseUrl,
      redisUrl,
      logDir,
      env: benchStackEnv(redisKeyPrefix, { MAX_OPERATION_COST: '100000' }),
    });
    cleanup.add('stop stack', () => stack.stop());

    const seeded = await seed(stack.routerUrl, runId);
    const plain = await startPlainGateway(
      { ...stack.env, SUPERGRAPH_PATH: join(repoRoot, 'schema/supergraph.graphql'), BENCH_USER_ID: seeded.userId },
      basePort + plainPortOffset,
      join(logDir, 'plain-gateway.log'),
    );
    cleanup.add('stop plain gateway', () => plain.stop());

    const targets: Target[] = [
      { name: 'mindweave', url: stack.routerUrl },
      { name: 'plain', url: plain.url },
    ];
    await checkSameData(Object.fromEntries(targets.map((t) => [t.name, t.url])), seeded.accessToken);
    process.stdout.write('both targets answer the benchmark query with the same data\n');

    const entries = {
      ...Object.fromEntries(services.map((service) => [service.name, service.entry])),
      plain: 'bench/router/plain-gateway.ts',
    };
    const children = findChildren(entries);
    const missing = Object.keys(entries).filter((name) => !(name in children));
    if (missing.length) throw new Error(`cannot find the process of ${missing.join(', ')} among this process' children`);
    const processes: ProcessGroups = {
      ...Object.fromEntries(Object.entries(children).map(([name, pid]) => [name, [pid]])),
      'load generator': [process.pid],
    };
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
      process.stderr.write(
        `\nFAILED: ${errors} failed requests (non-2xx, connection errors, timeouts or GraphQL errors); the numbers above are not valid\n`,
      );
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
