// `pnpm bench:federation`: the "federation" scenario of graphql-hive/graphql-gateways-benchmark
// (four subgraphs, one deeply nested TestQuery, 50 connections) reproduced on this machine, with
// this router (JWT authentication, cost analysis and rate limiting on), a plain @apollo/gateway,
// Hive Gateway, and Hive Gateway with its Rust query planner (@graphql-hive/router-runtime)
// measured side by side in one run, every Node process with the same V8 flags. Absolute numbers
// depend on the machine; the ratios are the result.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot, services } from '../../scripts/stack.ts';
import { answersGraphQL, checkSameResponses, firstByteDifference, firstDifference, postTestQuery, type Response } from './check.ts';
import { startIdentity } from './identity.ts';
import { placeholderUrl, supergraphPath } from './compose.ts';
import { startCpuProfile } from './inspector.ts';
import { startRouter } from './router.ts';
import { summarizeCpuProfile, type ProfileSummary } from './profile.ts';
import { subgraphNames, type SubgraphName } from './subgraphs/index.ts';
import { distinctOperations, testRequestBody } from './test-query.ts';
import { cleanupStack, deleteRedisKeys, freePorts, httpOk, positiveInt, startProcess } from '../lib/harness.ts';
import { errorCount, runLoad, type LoadRequest } from '../lib/load.ts';
import { findByCommand, isRunning, rssHighWaterMb, rssMb, startCpuMeter, startRssSampler, waitForIdle } from '../lib/procs.ts';
import { formatRound, round1, round2, summarize, table, type Measured, type TargetSummary } from '../lib/report.ts';

// Measured on demand (--targets), to show what a change pays: `mindweave-apollo` is this router
// executing plans with @apollo/gateway (QUERY_PLAN_EXECUTOR=apollo), `mindweave-variant` this router
// with the settings of --variant-env (`SUBGRAPH_DEDUPLICATION=false`, say).
const targetNames = ['mindweave', 'apollo', 'hive', 'hive-rust', 'mindweave-apollo', 'mindweave-variant'] as const;
const defaultTargets: TargetName[] = ['mindweave', 'apollo', 'hive', 'hive-rust'];
type TargetName = (typeof targetNames)[number];

interface Options {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  subgraphSeconds: number;
  targets: TargetName[];
  profile: TargetName[];
  hiveJit: boolean;
  checkOnly: boolean;
  /** The router settings of the `mindweave-variant` target. */
  variantEnv: Record<string, string>;
  /** Distinct operations sent to each gateway after the rounds (0: none). */
  firstSeen: number;
}

function targetList(name: string, value: string | undefined, fallback: TargetName[]): TargetName[] {
  if (value === undefined) return fallback;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(targetNames as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`${name}: unknown target ${unknown.join(', ')}; expected some of ${targetNames.join(', ')}`);
  return names as TargetName[];
}

/** Flags win over the environment, which wins over the defaults. */
function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      'subgraph-duration': { type: 'string' },
      targets: { type: 'string' },
      profile: { type: 'string' },
      'no-hive-jit': { type: 'boolean' },
      check: { type: 'boolean' },
      'first-seen': { type: 'string' },
      'variant-env': { type: 'string' },
    },
    // pnpm passes a lone `--` through when flags follow the script name.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
  });
  const env = process.env;
  const firstSeenCount = values['first-seen'] ?? env['BENCH_FIRST_SEEN'];
  return {
    connections: positiveInt('connections', values.connections ?? env['BENCH_CONNECTIONS'], 50),
    durationSeconds: positiveInt('duration', values.duration ?? env['BENCH_DURATION'], 15),
    warmupSeconds: positiveInt('warmup', values.warmup ?? env['BENCH_WARMUP'], 5),
    rounds: positiveInt('rounds', values.rounds ?? env['BENCH_ROUNDS'], 3),
    subgraphSeconds: positiveInt('subgraph-duration', values['subgraph-duration'] ?? env['BENCH_SUBGRAPH_DURATION'], 5),
    targets: targetList('targets', values.targets ?? env['BENCH_TARGETS'], defaultTargets),
    profile: targetList('profile', values.profile ?? env['BENCH_PROFILE'], []),
    hiveJit: !(values['no-hive-jit'] ?? env['BENCH_HIVE_JIT'] === '0'),
    checkOnly: values.check ?? false,
    variantEnv: Object.fromEntries(
      (values['variant-env'] ?? env['BENCH_VARIANT_ENV'] ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => pair.split('=', 2) as [string, string]),
    ),
    // 0 leaves the first-seen measure out.
    firstSeen: firstSeenCount === '0' ? 0 : positiveInt('first-seen', firstSeenCount, 200),
  };
}

interface Gateway {
  name: TargetName;
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

interface Stack {
  logDir: string;
  runId: string;
  redisUrl: string;
  redisKeyPrefix: string;
  signingSecret: string;
  jwksUrl: string;
  subgraphUrls: Record<SubgraphName, string>;
  /** The supergraph with the routing URLs of the subgraphs as started, for the gateways that take no overrides. */
  runtimeSupergraph: string;
  hiveJit: boolean;
  variantEnv: Record<string, string>;
}

const requireFromBench = createRequire(join(import.meta.dirname, '..', 'package.json'));

/**
 * The V8 flags this router runs with (scripts/stack.ts), offered to every Node contestant so that
 * none wins or loses by its heap settings.
 */
const v8Flags: readonly string[] = services.find((service) => service.name === 'router')?.nodeArgs ?? [];

/** Hive Gateway's CLI; run from the log folder so that no gateway config is picked up. */
async function startHive(
  name: 'hive' | 'hive-rust',
  stack: Stack,
  port: number,
  env: NodeJS.ProcessEnv,
  logFile: string,
  ready: () => Promise<boolean>,
) {
  const bin = join(requireFromBench.resolve('@graphql-hive/gateway/package.json'), '..', 'dist/bin.js');
  // The published scenarios: `hive-gateway supergraph supergraph.graphql --jit`, and for the Rust
  // planner `hive-gateway supergraph supergraph.graphql --hive-router-runtime`; one process each.
  const modeFlags = name === 'hive-rust' ? ['--hive-router-runtime'] : stack.hiveJit ? ['--jit'] : [];
  const started = await startProcess({
    name,
    command: process.execPath,
    args: [
      ...v8Flags,
      bin,
      'supergraph',
      stack.runtimeSupergraph,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--fork',
      '1',
      ...modeFlags,
    ],
    env: { ...env, NODE_ENV: 'production' },
    cwd: stack.logDir,
    ready,
    logFile,
  });
  if (name === 'hive-rust') {
    // Without the package the CLI falls back to its JavaScript planner and says so only in its log.
    const log = await readFile(logFile, 'utf8');
    if (!log.includes('Using Hive Router Runtime') || log.includes('Could not load the @graphql-hive/router-runtime package')) {
      await started.stop();
      throw new Error(`hive-rust did not load @graphql-hive/router-runtime: see ${logFile}`);
    }
  }
  return started;
}

/** Starts one gateway on `port`; with `inspectorPort`, with its inspector open for profiling. */
async function startGateway(name: TargetName, stack: Stack, port: number, inspectorPort?: number): Promise<Gateway> {
  const inspect: Record<string, string> = inspectorPort
    ? { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --inspect=127.0.0.1:${inspectorPort}`.trim() }
    : {};
  const logFile = join(stack.logDir, `${name}${inspectorPort ? '-profiled' : ''}.log`);
  const url = `http://127.0.0.1:${port}/graphql`;
  const ready = () => answersGraphQL(url);
  if (name === 'mindweave' || name === 'mindweave-apollo' || name === 'mindweave-variant') {
    const started = await startRouter({
      port,
      supergraphPath,
      subgraphUrls: stack.subgraphUrls,
      jwksUrl: stack.jwksUrl,
      redisUrl: stack.redisUrl,
      redisKeyPrefix: stack.redisKeyPrefix,
      signingSecret: stack.signingSecret,
      logFile,
      env: {
        ...inspect,
        ...(name === 'mindweave-apollo' ? { QUERY_PLAN_EXECUTOR: 'apollo' } : name === 'mindweave-variant' ? stack.variantEnv : {}),
      },
    });
    return { name, url, pid: started.pid, stop: started.stop };
  }
  if (name === 'apollo') {
    const started = await startProcess({
      name,
      command: process.execPath,
      args: [...v8Flags, '--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'apollo-gateway.ts')],
      env: { ...process.env, ...inspect, NODE_ENV: 'production', PORT: String(port), SUPERGRAPH_PATH: stack.runtimeSupergraph },
      cwd: repoRoot,
      ready,
      logFile,
    });
    return { name, url, pid: started.pid, stop: started.stop };
  }
  const started = await startHive(name, stack, port, { ...process.env, ...inspect }, logFile, ready);
  return { name, url, pid: started.pid, stop: started.stop };
}

function loadRequest(gateway: Gateway, token: string): LoadRequest {
  return { url: gateway.url, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: testRequestBody };
}

/**
 * Every body of every round must be byte for byte the gateway's checked answer, which the check
 * before the rounds found equal to the others' (and, for this router, byte-identical to plain
 * @apollo/gateway's).
 */
const sameAs = (expected: Response) => (text: string) => text === expected.text;

/** The requests one TestQuery through `gateway` makes to each subgraph, recorded by the subgraphs. */
async function fanOut(gateway: Gateway, stack: Stack, token: string): Promise<Record<SubgraphName, string[]>> {
  const record = (subgraph: SubgraphName, method: 'POST' | 'GET') =>
    fetch(new URL('/_record', stack.subgraphUrls[subgraph]), { method }).then((r) => r.json() as Promise<string[]>);
  await Promise.all(subgraphNames.map((subgraph) => record(subgraph, 'POST')));
  await postTestQuery(gateway.url, token);
  const bodies = await Promise.all(subgraphNames.map((subgraph) => record(subgraph, 'GET')));
  return Object.fromEntries(subgraphNames.map((subgraph, i) => [subgraph, bodies[i] ?? []])) as Record<SubgraphName, string[]>;
}

/** How many entity representations the requests carry, and how many of them differ within each request. */
function representationsIn(bodies: string[]): { total: number; distinct: number } {
  let total = 0;
  let distinct = 0;
  for (const body of bodies) {
    const representations = (JSON.parse(body) as { variables?: { representations?: unknown[] } }).variables?.representations ?? [];
    total += representations.length;
    distinct += new Set(representations.map((r) => JSON.stringify(r))).size;
  }
  return { total, distinct };
}

interface SubgraphAlone {
  subgraph: SubgraphName;
  requestsPerQuery: number;
  rps: number;
  p99Ms: number;
  /** TestQueries a second this subgraph could serve on its own: rps / requestsPerQuery. */
  queriesPerSecond: number;
  cpuPct: number;
  errors: number;
}

/** Each subgraph alone, with exactly the requests one TestQuery through plain @apollo/gateway makes to it. */
async function measureSubgraphsAlone(
  requests: Record<SubgraphName, string[]>,
  stack: Stack,
  pids: Record<SubgraphName, number[]>,
  options: Options,
) {
  const results: SubgraphAlone[] = [];
  for (const subgraph of subgraphNames) {
    const bodies = requests[subgraph];
    if (!bodies.length) continue;
    const cpuSince = startCpuMeter({ subgraph: pids[subgraph] });
    const round = await runLoad(
      subgraph,
      { url: stack.subgraphUrls[subgraph], headers: { 'content-type': 'application/json' }, bodies },
      {
        connections: options.connections,
        durationSeconds: options.subgraphSeconds,
        verify: (text) => text.startsWith('{"data":') && !text.includes('"errors"'),
      },
    );
    const rps = round1(round.requestsPerSecond);
    results.push({
      subgraph,
      requestsPerQuery: bodies.length,
      rps,
      p99Ms: round.p99Ms,
      queriesPerSecond: Math.round(round.requestsPerSecond / bodies.length),
      cpuPct: Math.round(cpuSince()['subgraph'] ?? 0),
      errors: errorCount(round),
    });
    await waitForIdle(pids[subgraph]);
  }
  return results;
}

async function measure(
  gateway: Gateway,
  options: Options,
  seconds: number,
  token: string,
  expected: Response,
  groups: Record<string, number[]>,
): Promise<Measured> {
  const cpuSince = startCpuMeter({ ...groups, redis: findByCommand('redis-server') });
  const rssPeaks = startRssSampler([gateway.pid]);
  const result = await runLoad(gateway.name, loadRequest(gateway, token), {
    connections: options.connections,
    durationSeconds: seconds,
    verify: sameAs(expected),
  });
  const cpu = cpuSince();
  const peak = rssPeaks().get(gateway.pid) ?? Number.NaN;
  // Its errors would otherwise read as the gateway's own failures.
  if (!isRunning(gateway.pid)) throw new Error(`the ${gateway.name} gateway (pid ${gateway.pid}) exited during the round: see its log`);
  await waitForIdle([gateway.pid]);
  return { ...result, cpu, gatewayRssMb: peak };
}

/**
 * Warms every gateway up, then measures them in turns, each round starting one further, so that
 * drift hits all; after each round, this router's requests/s relative to each other gateway's in
 * that round.
 */
async function compare(
  gateways: Gateway[],
  options: Options,
  token: string,
  expected: Map<string, Response>,
  groups: Record<string, number[]>,
) {
  for (const gateway of gateways) {
    process.stdout.write(`warming up ${gateway.name} for ${options.warmupSeconds} s\n`);
    await runLoad(gateway.name, loadRequest(gateway, token), { connections: options.connections, durationSeconds: options.warmupSeconds });
    await waitForIdle([gateway.pid]);
  }
  const rounds: Measured[][] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = gateways.map((_, i) => gateways[(i + round - 1) % gateways.length]).filter((g): g is Gateway => g !== undefined);
    const measured: Measured[] = [];
    for (const gateway of order) {
      const result = await measure(gateway, options, options.durationSeconds, token, expected.get(gateway.name) as Response, groups);
      process.stdout.write(`${formatRound(round, result)}  (other processes ${Math.round(result.cpu['other'] ?? 0)}% of a core)\n`);
      if (result.firstBadBody) process.stdout.write(`  first body unlike the checked answer: ${result.firstBadBody}\n`);
      measured.push(result);
    }
    const ratios = roundRatios(measured);
    if (ratios.length) process.stdout.write(`round ${round} mindweave req/s: ${ratios.map((r) => `${r.ratio}x ${r.other}`).join(', ')}\n`);
    rounds.push(measured);
  }
  return rounds;
}

/** This router's requests/s over each other gateway's, in one round. */
function roundRatios(round: Measured[]): { other: string; ratio: number }[] {
  const mine = round.find((r) => r.target === 'mindweave');
  if (!mine) return [];
  return round.filter((r) => r !== mine).map((r) => ({ other: r.target, ratio: round2(mine.requestsPerSecond / r.requestsPerSecond) }));
}

interface FirstSeen {
  name: TargetName;
  operations: number;
  meanMs: number;
  p50Ms: number;
  /** Over the second half of the stream, once the gateway's planner has warmed up. */
  laterP50Ms: number;
  p99Ms: number;
  /** The same sequential requests with one operation the gateway has seen before. */
  repeatedP50Ms: number;
  rssMb: number;
  highWaterMb: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

/**
 * The cost of operations a gateway has not seen: `count` distinct documents sent one after the
 * other (parse, validation, analysis and planning each time), next to the same number of requests
 * of one known operation. Each answer is compared with the other gateways' answers to the same
 * document: this router's byte for byte with plain @apollo/gateway's.
 */
async function measureFirstSeen(gateways: Gateway[], count: number, token: string, seed: string): Promise<FirstSeen[]> {
  const operations = distinctOperations(count, seed);
  const answers = new Map<string, Response[]>();
  const results: FirstSeen[] = [];
  for (const gateway of gateways) {
    const timings: number[] = [];
    const texts: Response[] = [];
    for (const operation of operations) {
      const started = performance.now();
      const response = await postTestQuery(gateway.url, token, operation.body);
      timings.push(performance.now() - started);
      if (response.status !== 200 || response.body.errors?.length)
        throw new Error(`${gateway.name} answered ${operation.name} with HTTP ${response.status}: ${response.text.slice(0, 300)}`);
      texts.push(response);
    }
    answers.set(gateway.name, texts);
    const repeated: number[] = [];
    for (let i = 0; i < Math.min(count, 100); i++) {
      const started = performance.now();
      await postTestQuery(gateway.url, token);
      repeated.push(performance.now() - started);
    }
    const later = timings.slice(Math.floor(timings.length / 2)).sort((a, b) => a - b);
    timings.sort((a, b) => a - b);
    repeated.sort((a, b) => a - b);
    results.push({
      name: gateway.name,
      operations: count,
      meanMs: round1(timings.reduce((sum, t) => sum + t, 0) / timings.length),
      p50Ms: round1(percentile(timings, 50)),
      laterP50Ms: round1(percentile(later, 50)),
      p99Ms: round1(percentile(timings, 99)),
      repeatedP50Ms: round1(percentile(repeated, 50)),
      rssMb: round1(rssMb(gateway.pid)),
      highWaterMb: round1(rssHighWaterMb(gateway.pid)),
    });
    await waitForIdle([gateway.pid]);
  }
  const apollo = answers.get('apollo');
  const [first, ...others] = [...answers];
  for (const [name, texts] of others) {
    texts.forEach((response, i) => {
      const reference = first?.[1][i];
      const difference = reference ? firstDifference(reference.body.data, response.body.data) : null;
      if (difference)
        throw new Error(`${first?.[0]} and ${name} answer ${operations[i]?.name} with different data, first at ${difference}`);
    });
  }
  for (const [name, texts] of answers) {
    if (!name.startsWith('mindweave') || !apollo) continue;
    texts.forEach((response, i) => {
      const difference = firstByteDifference(response.text, apollo[i]?.text ?? '');
      if (difference) throw new Error(`${name} and apollo answer ${operations[i]?.name} with different bytes, ${difference}`);
    });
  }
  return results;
}

/** Starts a second instance of `name` with its inspector open, warms it up and profiles one round of it. */
async function profileGateway(
  name: TargetName,
  stack: Stack,
  ports: [number, number],
  options: Options,
  token: string,
  expected: Response,
) {
  const gateway = await startGateway(name, stack, ports[0], ports[1]);
  try {
    await runLoad(name, loadRequest(gateway, token), { connections: options.connections, durationSeconds: options.warmupSeconds });
    await waitForIdle([gateway.pid]);
    const profiler = await startCpuProfile(ports[1]);
    const round = await runLoad(name, loadRequest(gateway, token), {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      verify: sameAs(expected),
    });
    const profile = await profiler.stop();
    const file = join(tmpdir(), `mindweave-federation-${stack.runId}-${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    return { round, file, summary: summarizeCpuProfile(profile) };
  } finally {
    await gateway.stop();
  }
}

function formatProfile(name: string, file: string, summary: ProfileSummary): string {
  const busy = `${name}: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle during the profiled round (profile: ${file})`;
  const packages = table(
    ['self time by package', 'ms', '% of busy'],
    summary.packages.slice(0, 15).map((p) => [p.name, p.selfMs, p.pct]),
  );
  const functions = table(
    ['self time by function', 'ms', '% of busy'],
    summary.functions.map((f) => [f.name, f.selfMs, f.pct]),
  );
  return `\n${busy}\n\n${packages}\n\n${functions}\n`;
}

interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

/** The product's bar for this router, as far as the measured targets allow judging it. */
function judge(summaries: Partial<Record<TargetName, TargetSummary>>, lifetimePeakRssMb: number): Verdict[] {
  const { mindweave, apollo, 'hive-rust': hiveRust } = summaries;
  if (!mindweave) return [];
  const verdicts: Verdict[] = [];
  if (apollo)
    verdicts.push({
      name: 'requests/s >= 2x plain @apollo/gateway',
      ok: mindweave.rps >= 2 * apollo.rps,
      detail: `${round2(mindweave.rps / apollo.rps)}x`,
    });
  if (hiveRust) {
    verdicts.push({
      name: 'requests/s >= 1.0x Hive Gateway with the Rust planner',
      ok: mindweave.rps >= hiveRust.rps,
      detail: `${round2(mindweave.rps / hiveRust.rps)}x (stretch 1.5x)`,
    });
  }
  const others = (Object.entries(summaries) as [TargetName, TargetSummary][])
    .filter(([name]) => !name.startsWith('mindweave'))
    .map(([, s]) => s);
  if (others.length) {
    const best = Math.min(...others.map((s) => s.p99Ms));
    verdicts.push({
      name: 'p99 no worse than any other gateway',
      ok: mindweave.p99Ms <= best,
      detail: `${mindweave.p99Ms} ms against ${best} ms`,
    });
  }
  // The stricter of the sampled peak and the kernel's high-water mark, which no sampling can miss.
  const peak = Math.max(mindweave.rssMb, lifetimePeakRssMb || 0);
  verdicts.push({
    name: 'peak RSS < 500 MB',
    ok: peak < 500,
    detail: `${peak} MB (sampled ${mindweave.rssMb} MB, lifetime ${lifetimePeakRssMb} MB, first-seen operations included)`,
  });
  verdicts.push({
    name: 'no failed requests, every response identical to the checked answer',
    ok: mindweave.errors === 0,
    detail: `${mindweave.errors}`,
  });
  return verdicts;
}

async function main(): Promise<number> {
  const options = readOptions();
  const runId = randomBytes(4).toString('hex');
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `mw-bench-federation-${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-bench-federation-${runId}-`));
  const cleanup = cleanupStack();
  let failed = true;
  const onSignal = () => {
    process.stderr.write(`\ninterrupted: stopping everything; logs kept in ${logDir}\n`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    cleanup.add('delete Redis keys', () => deleteRedisKeys(redisUrl, redisKeyPrefix));
    // 4 subgraphs, the JWKS, the gateways, and 2 ports for each profiled gateway.
    const profilePorts = 5 + options.targets.length;
    const ports = await freePorts(profilePorts + 2 * options.profile.length);
    const port = (i: number) => ports[i] ?? 0;
    process.stdout.write(`bench federation ${runId}: ports ${port(0)}-${port(ports.length - 1)}, logs ${logDir}\n`);

    const subgraphPids = {} as Record<SubgraphName, number[]>;
    const subgraphUrls = {} as Record<SubgraphName, string>;
    for (const [i, subgraph] of subgraphNames.entries()) {
      const subgraphPort = port(i);
      const started = await startProcess({
        name: subgraph,
        command: process.execPath,
        args: ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'subgraph-server.ts'), subgraph],
        env: { ...process.env, NODE_ENV: 'production', PORT: String(subgraphPort) },
        cwd: repoRoot,
        ready: () => httpOk(`http://127.0.0.1:${subgraphPort}/health`),
        logFile: join(logDir, `subgraph-${subgraph}.log`),
      });
      cleanup.add(`stop ${subgraph}`, () => started.stop());
      subgraphPids[subgraph] = [started.pid];
      subgraphUrls[subgraph] = `http://127.0.0.1:${subgraphPort}/graphql`;
    }

    const identity = await startIdentity(port(4));
    cleanup.add('stop JWKS', () => identity.stop());
    let runtime = await readFile(supergraphPath, 'utf8');
    for (const subgraph of subgraphNames) runtime = runtime.replaceAll(`"${placeholderUrl(subgraph)}"`, `"${subgraphUrls[subgraph]}"`);
    const runtimeSupergraph = join(logDir, 'supergraph.graphql');
    await writeFile(runtimeSupergraph, runtime);
    const stack: Stack = {
      logDir,
      runId,
      redisUrl,
      redisKeyPrefix,
      signingSecret: randomBytes(32).toString('base64url'),
      jwksUrl: identity.jwksUrl,
      subgraphUrls,
      runtimeSupergraph,
      hiveJit: options.hiveJit,
      variantEnv: options.variantEnv,
    };

    const gateways: Gateway[] = [];
    for (const [i, name] of options.targets.entries()) {
      const gateway = await startGateway(name, stack, port(5 + i));
      cleanup.add(`stop ${name}`, () => gateway.stop());
      gateways.push(gateway);
      process.stdout.write(`${name} ready at ${gateway.url} (pid ${gateway.pid}, RSS ${round1(rssMb(gateway.pid))} MB before any load)\n`);
    }

    const sameBytes = Object.fromEntries(
      gateways.filter((g) => g.name.startsWith('mindweave') && options.targets.includes('apollo')).map((g) => [g.name, 'apollo']),
    );
    const responses = await checkSameResponses(gateways, identity.token, sameBytes);
    process.stdout.write(
      `every gateway answers TestQuery with the same data (${[...responses].map(([name, r]) => `${name} ${r.text.length} bytes`).join(', ')})${Object.keys(sameBytes).length ? `; ${Object.keys(sameBytes).join(', ')} byte-identical to apollo` : ''}\n`,
    );
    if (options.checkOnly) {
      failed = false;
      return 0;
    }

    const fanOuts = new Map<TargetName, Record<SubgraphName, string[]>>();
    for (const gateway of gateways) fanOuts.set(gateway.name, await fanOut(gateway, stack, identity.token));
    process.stdout.write(
      `\n${table(
        ['subgraph requests per TestQuery', ...subgraphNames, 'total', 'KB sent', 'entity representations', 'distinct'],
        [...fanOuts].map(([name, requests]) => {
          const all = Object.values(requests).flat();
          const { total, distinct } = representationsIn(all);
          return [
            name,
            ...subgraphNames.map((s) => requests[s].length),
            all.length,
            round1(all.reduce((sum, b) => sum + b.length, 0) / 1024),
            total,
            distinct,
          ];
        }),
      )}\n(distinct: per request, summed; representations sent twice in one request are work a gateway could skip)\n`,
    );

    // Each subgraph alone, replaying what plain @apollo/gateway asks of it (or the first gateway's).
    const replay = fanOuts.get('apollo') ?? fanOuts.values().next().value;
    const alone = replay ? await measureSubgraphsAlone(replay, stack, subgraphPids, options) : [];
    process.stdout.write(
      `\n${table(
        ['subgraph alone', 'requests per TestQuery', 'req/s', 'p99 ms', 'TestQuery/s it could serve', 'CPU %', 'errors'],
        alone.map((a) => [a.subgraph, a.requestsPerQuery, a.rps, a.p99Ms, a.queriesPerSecond, a.cpuPct, a.errors]),
      )}\n(${options.connections} connections, ${options.subgraphSeconds} s each, the requests one TestQuery through ${fanOuts.has('apollo') ? 'plain @apollo/gateway' : gateways[0]?.name} makes)\n\n`,
    );

    const groups: Record<string, number[]> = {
      ...Object.fromEntries(gateways.map((g) => [g.name, [g.pid]])),
      ...subgraphPids,
      'load generator': [process.pid],
    };
    const rounds = await compare(gateways, options, identity.token, responses, groups);
    const measured = rounds.flat();

    const summaries: Partial<Record<TargetName, TargetSummary>> = {};
    for (const gateway of gateways) summaries[gateway.name] = summarize(measured.filter((r) => r.target === gateway.name));
    const { apollo, 'hive-rust': hiveRust } = summaries;
    const ratioTo = (s: TargetSummary, base: TargetSummary | undefined) =>
      base ? { rps: round2(s.rps / base.rps), p99: round2(s.p99Ms / base.p99Ms) } : undefined;
    const entries = Object.entries(summaries) as [TargetName, TargetSummary][];
    // Throughput per core the gateway actually got: steadier than req/s when other work takes CPU.
    const perCore = (name: TargetName, s: TargetSummary) => Math.round(s.rps / ((s.cpu[name] ?? 100) / 100));
    const highWater = Object.fromEntries(gateways.map((g) => [g.name, round1(rssHighWaterMb(g.pid))]));
    process.stdout.write(
      `\n${table(
        [
          'target',
          'req/s',
          'p50 ms',
          'p99 ms',
          'peak RSS MB',
          'errors',
          'req/s / apollo',
          'p99 / apollo',
          'req/s / hive-rust',
          'p99 / hive-rust',
          'req/s per core',
        ],
        entries.map(([name, s]) => [
          name,
          s.rps,
          s.p50Ms,
          s.p99Ms,
          s.rssMb,
          s.errors,
          ratioTo(s, apollo)?.rps ?? '-',
          ratioTo(s, apollo)?.p99 ?? '-',
          ratioTo(s, hiveRust)?.rps ?? '-',
          ratioTo(s, hiveRust)?.p99 ?? '-',
          perCore(name, s),
        ]),
      )}\n`,
    );
    const perRound = rounds.map(roundRatios);
    const ranges = [...new Set(perRound.flat().map((r) => r.other))].map((other) => {
      const values = perRound.flatMap((round) => round.filter((r) => r.other === other).map((r) => r.ratio));
      return `${other} ${Math.min(...values)}-${Math.max(...values)}x`;
    });
    process.stdout.write(
      `(${options.connections} connections, ${options.rounds} rounds of ${options.durationSeconds} s each after ${options.warmupSeconds} s of warm-up; every response of every round byte for byte its gateway's checked answer; V8 flags for every Node gateway: ${v8Flags.join(' ') || 'none'}; peak RSS sampled every 200 ms during the rounds; lifetime peak (VmHWM): ${Object.entries(
        highWater,
      )
        .map(([n, mb]) => `${n} ${mb} MB`)
        .join(', ')}; per core: req/s over the gateway's own CPU in cores)\n`,
    );
    if (ranges.length) process.stdout.write(`mindweave req/s over each, round by round: ${ranges.join(', ')}\n`);
    const cpuNames = Object.keys(entries[0]?.[1].cpu ?? {});
    process.stdout.write(
      `\n${table(
        ['CPU % of one core during', ...cpuNames],
        entries.map(([name, s]) => [name, ...cpuNames.map((n) => s.cpu[n] ?? 0)]),
      )}\n(redis is the whole server, other is what no column accounts for: other engineers' work; machine is all ${cpus().length} cores)\n`,
    );
    const busiestOther = Math.max(...entries.map(([, s]) => s.cpu['other'] ?? 0));
    if (busiestOther > 25)
      process.stdout.write(
        `warning: processes outside the benchmark used up to ${busiestOther}% of a core during the rounds; the machine was not quiet\n`,
      );
    const bestRps = Math.max(...entries.map(([, s]) => s.rps));
    const tightest = alone.reduce<SubgraphAlone | undefined>((a, b) => (a && a.queriesPerSecond <= b.queriesPerSecond ? a : b), undefined);
    if (tightest) {
      const headroom = round1(tightest.queriesPerSecond / bestRps);
      process.stdout.write(
        `subgraph headroom: ${tightest.subgraph}, the tightest, serves ${headroom}x the fastest gateway's TestQuery/s on its own${headroom < 3 ? ' (warning: it may limit the gateways)' : ''}\n`,
      );
    }

    let firstSeen: FirstSeen[] = [];
    if (options.firstSeen > 0) {
      process.stdout.write(`\nsending ${options.firstSeen} operations new to each gateway, one at a time\n`);
      firstSeen = await measureFirstSeen(gateways, options.firstSeen, identity.token, runId);
      process.stdout.write(
        `\n${table(
          [
            'first-seen operations',
            'count',
            'mean ms',
            'p50 ms',
            'second half p50 ms',
            'p99 ms',
            'known op p50 ms',
            'RSS after MB',
            'lifetime peak MB',
          ],
          firstSeen.map((f) => [f.name, f.operations, f.meanMs, f.p50Ms, f.laterP50Ms, f.p99Ms, f.repeatedP50Ms, f.rssMb, f.highWaterMb]),
        )}\n(each a distinct document asking for TestQuery's work under new aliases, sent one after the other; answers compared across gateways, this router's byte for byte with apollo's; a JavaScript planner is still warming up in the first half)\n`,
      );
      for (const f of firstSeen) highWater[f.name] = Math.max(highWater[f.name] ?? 0, f.highWaterMb);
    }

    const verdicts = judge(summaries, highWater['mindweave'] ?? 0);
    if (verdicts.length) {
      process.stdout.write(
        `\nthe bar for this router (mindweave):\n${verdicts.map((v) => `  ${v.ok ? 'met    ' : 'not met'}  ${v.name}: ${v.detail}`).join('\n')}\n`,
      );
    }
    const mine = firstSeen.find((f) => f.name === 'mindweave');
    if (mine) {
      const describe = (f: FirstSeen) => `${f.name} ${f.p50Ms} ms, ${f.laterP50Ms} ms in the second half (known: ${f.repeatedP50Ms} ms)`;
      const others = firstSeen.filter((f) => f !== mine).map(describe);
      process.stdout.write(
        `  first-seen operation p50 (measured, not a bar): ${describe(mine)}${others.length ? `; ${others.join('; ')}` : ''}\n`,
      );
    }

    const profiles: Record<string, unknown> = {};
    for (const [i, name] of options.profile.entries()) {
      const expected = responses.get(name);
      if (!expected) {
        process.stdout.write(`\nnot profiling ${name}: it is not among the targets\n`);
        continue;
      }
      process.stdout.write(`\nprofiling a second ${name} instance for one ${options.durationSeconds} s round (not in the table above)\n`);
      const profiled = await profileGateway(
        name,
        stack,
        [port(profilePorts + 2 * i), port(profilePorts + 1 + 2 * i)],
        options,
        identity.token,
        expected,
      );
      process.stdout.write(`profiled round: ${round1(profiled.round.requestsPerSecond)} req/s, errors ${errorCount(profiled.round)}\n`);
      process.stdout.write(formatProfile(name, profiled.file, profiled.summary));
      profiles[name] = { file: profiled.file, topPackages: profiled.summary.packages.slice(0, 8) };
    }

    // This router must answer every request, each exactly as checked; another gateway's timeouts
    // under load are its result (and in its error column), but a wrong answer from any gateway
    // would make the comparison meaningless.
    const ownErrors = measured.filter((r) => r.target.startsWith('mindweave')).reduce((sum, r) => sum + errorCount(r), 0);
    const wrongBodies = measured.reduce((sum, r) => sum + r.badBodies, 0);
    const errors = ownErrors + wrongBodies;
    const othersFailed = measured.filter((r) => !r.target.startsWith('mindweave')).reduce((sum, r) => sum + errorCount(r) - r.badBodies, 0);
    if (othersFailed > 0)
      process.stdout.write(
        `\nnote: the other gateways failed ${othersFailed} requests (timeouts, non-2xx or connection errors), counted in their rows\n`,
      );
    if (errors > 0)
      process.stderr.write(
        `\nFAILED: ${ownErrors} failed requests of this router, ${wrongBodies} answers unlike the checked ones; the numbers above are not valid\n`,
      );
    const summary = {
      scenario: 'graphql-gateways-benchmark federation',
      connections: options.connections,
      durationS: options.durationSeconds,
      warmupS: options.warmupSeconds,
      rounds: options.rounds,
      hiveJit: options.hiveJit,
      node: process.version,
      cpus: cpus().length,
      ...Object.fromEntries(
        entries.map(([name, s]) => [
          name,
          {
            rps: s.rps,
            p50Ms: s.p50Ms,
            p99Ms: s.p99Ms,
            peakRssMb: s.rssMb,
            lifetimePeakRssMb: highWater[name],
            rpsPerCore: perCore(name, s),
            cpuPct: s.cpu[name] ?? 0,
            errors: s.errors,
            otherCpuPct: s.cpu['other'] ?? 0,
          },
        ]),
      ),
      ratioToApollo: Object.fromEntries(entries.map(([name, s]) => [name, ratioTo(s, apollo)])),
      ratioToHiveRust: Object.fromEntries(entries.map(([name, s]) => [name, ratioTo(s, hiveRust)])),
      mindweaveRatioRangeByRound: ranges,
      firstSeen: Object.fromEntries(
        firstSeen.map((f) => [
          f.name,
          { meanMs: f.meanMs, p50Ms: f.p50Ms, laterP50Ms: f.laterP50Ms, p99Ms: f.p99Ms, knownP50Ms: f.repeatedP50Ms },
        ]),
      ),
      subgraphsAlone: Object.fromEntries(
        alone.map((a) => [a.subgraph, { rps: a.rps, requestsPerQuery: a.requestsPerQuery, queriesPerSecond: a.queriesPerSecond }]),
      ),
      bar: Object.fromEntries(verdicts.map((v) => [v.name, v.ok])),
      ...(Object.keys(profiles).length ? { profiles } : {}),
    };
    process.stdout.write(`\n${JSON.stringify(summary)}\n`);
    failed = errors > 0;
    return failed ? 1 : 0;
  } catch (error) {
    process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await cleanup.runAll();
    // Logs are kept when something went wrong: they are where the reason is.
    if (failed) process.stderr.write(`logs kept in ${logDir}\n`);
    else await rm(logDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
