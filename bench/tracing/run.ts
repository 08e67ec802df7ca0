// `pnpm bench:tracing`: what OpenTelemetry tracing costs the router, on bench:federation's scenario
// (four subgraphs, the nested TestQuery, 50 connections, JWT authentication, cost analysis and rate
// limiting on). Five routers from the build, measured in turns, each round starting one further (or,
// with --together / BENCH_TOGETHER=true, all five loaded at once in each round):
//   bare  without the tracing preload, as a build without tracing would run;
//   off   with the preload and no OTEL_* settings (every deployment's default);
//   on    exporting every span (always_on sampling) over OTLP/HTTP protobuf to a sink in this process;
//   sampled  the same with 10% of the traces sampled (parentbased_traceidratio 0.1), a production setting;
//   implicit  `on` with the SDK's default AsyncLocalStorage context manager and every instrumentation,
//         as the router ran before it passed its trace context explicitly (MW_TRACING_IMPLICIT_CONTEXT).
// Printed: requests/s of each round, and the router's CPU time per request (its own user + system
// time over the requests it served), which a busy machine disturbs far less than requests/s; the
// ratios off/bare and on/off of both, then their means.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startOtlpReceiver } from '../../scripts/otlp-receiver.ts';
import { repoRoot } from '../../scripts/stack.ts';
import { checkSameResponses, postTestQuery } from '../federation/check.ts';
import { placeholderUrl, supergraphPath } from '../federation/compose.ts';
import { startIdentity } from '../federation/identity.ts';
import { startRouter } from '../federation/router.ts';
import { subgraphNames, type SubgraphName } from '../federation/subgraphs/index.ts';
import { testRequestBody } from '../federation/test-query.ts';
import { cleanupStack, deleteRedisKeys, freePorts, httpOk, positiveInt, startProcess } from '../lib/harness.ts';
import { errorCount, runLoad } from '../lib/load.ts';
import { cpuSeconds, waitForIdle } from '../lib/procs.ts';
import { mean, round1, table } from '../lib/report.ts';

const targets = ['bare', 'off', 'on', 'sampled', 'implicit'] as const;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
type Target = (typeof targets)[number];

const { values } = parseArgs({
  options: {
    connections: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    together: { type: 'boolean' },
  },
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
});
const options = {
  connections: positiveInt('connections', values.connections ?? process.env['BENCH_CONNECTIONS'], 50),
  durationSeconds: positiveInt('duration', values.duration ?? process.env['BENCH_DURATION'], 5),
  warmupSeconds: positiveInt('warmup', values.warmup ?? process.env['BENCH_WARMUP'], 3),
  rounds: positiveInt('rounds', values.rounds ?? process.env['BENCH_ROUNDS'], 4),
  // All five loaded at once in each round: on a machine whose other work comes and goes, each router
  // then runs under the same conditions, where in turns one may get a quiet five seconds and the next not.
  together: values.together ?? process.env['BENCH_TOGETHER'] === 'true',
};

// The routers run from `pnpm build` (the script builds first), as in production; no OTEL_* setting of
// this shell reaches them except the `on` router's own.
process.env['MW_RUN_FROM'] = 'build';
for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];

async function main() {
  const runId = randomBytes(4).toString('hex');
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `mw-bench-tracing-${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-bench-tracing-${runId}-`));
  const cleanup = cleanupStack();
  process.once('SIGINT', () => void cleanup.runAll().finally(() => process.exit(130)));
  const sink = await startOtlpReceiver({ keep: false });
  cleanup.add('stop the OTLP sink', () => sink.close());
  cleanup.add('delete Redis keys', () => deleteRedisKeys(redisUrl, redisKeyPrefix));
  try {
    const ports = await freePorts(5 + targets.length);
    const port = (i: number) => ports[i] ?? 0;
    process.stdout.write(`bench tracing ${runId}: logs ${logDir}, OTLP sink ${sink.url}\n`);
    const subgraphUrls = {} as Record<SubgraphName, string>;
    for (const [i, subgraph] of subgraphNames.entries()) {
      const started = await startProcess({
        name: subgraph,
        command: process.execPath,
        args: ['--conditions=development', '--import', 'tsx', join(repoRoot, 'bench/federation/subgraph-server.ts'), subgraph],
        env: { ...process.env, NODE_ENV: 'production', PORT: String(port(i)) },
        cwd: repoRoot,
        ready: () => httpOk(`http://127.0.0.1:${port(i)}/health`),
        logFile: join(logDir, `subgraph-${subgraph}.log`),
      });
      cleanup.add(`stop ${subgraph}`, () => started.stop());
      subgraphUrls[subgraph] = `http://127.0.0.1:${port(i)}/graphql`;
    }
    const identity = await startIdentity(port(4));
    cleanup.add('stop JWKS', () => identity.stop());
    let runtime = await readFile(supergraphPath, 'utf8');
    for (const subgraph of subgraphNames) runtime = runtime.replaceAll(`"${placeholderUrl(subgraph)}"`, `"${subgraphUrls[subgraph]}"`);
    await writeFile(join(logDir, 'supergraph.graphql'), runtime);

    const routers = new Map<Target, { url: string; pid: number; name: Target }>();
    for (const [i, target] of targets.entries()) {
      const tracing: Record<string, string> =
        target === 'on'
          ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' }
          : target === 'sampled'
            ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }
            : target === 'implicit'
              ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on', MW_TRACING_IMPLICIT_CONTEXT: 'true' }
              : {};
      const started = await startRouter({
        port: port(5 + i),
        supergraphPath,
        subgraphUrls,
        jwksUrl: identity.jwksUrl,
        redisUrl,
        redisKeyPrefix,
        signingSecret: randomBytes(32).toString('base64url'),
        logFile: join(logDir, `router-${target}.log`),
        env: tracing,
        preload: target !== 'bare',
      });
      cleanup.add(`stop ${target}`, () => started.stop());
      routers.set(target, { url: started.url, pid: started.pid, name: target });
    }
    // The three answer alike; and the traced one exports.
    const responses = await checkSameResponses([...routers.values()], identity.token, {});
    const expected = responses.get('bare')!.text;
    await postTestQuery(routers.get('on')!.url, identity.token);
    const request = (target: Target) => ({
      url: routers.get(target)!.url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${identity.token}` },
      body: testRequestBody,
    });
    for (const target of targets) {
      await runLoad(target, request(target), { connections: options.connections, durationSeconds: options.warmupSeconds });
      await waitForIdle([routers.get(target)!.pid]);
    }
    const exportedBefore = sink.stats();

    const rows: (string | number)[][] = [];
    const offOverBare: number[] = [];
    const onOverOff: number[] = [];
    const cpuOffOverBare: number[] = [];
    const cpuOnOverOff: number[] = [];
    const sampledOverOff: number[] = [];
    const cpuSampledOverOff: number[] = [];
    const implicitOverOff: number[] = [];
    const cpuImplicitOverOff: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      const rps = {} as Record<Target, number>;
      const cpuUs = {} as Record<Target, number>;
      const measure = async (target: Target) => {
        const pid = routers.get(target)!.pid;
        const cpuBefore = cpuSeconds(pid) ?? Number.NaN;
        const result = await runLoad(target, request(target), {
          connections: options.connections,
          durationSeconds: options.durationSeconds,
          verify: (text) => text === expected,
        });
        if (errorCount(result))
          throw new Error(`${target}: ${errorCount(result)} failed requests in round ${round}: ${result.firstBadBody ?? ''}`);
        rps[target] = result.requestsPerSecond;
        cpuUs[target] = (((cpuSeconds(pid) ?? Number.NaN) - cpuBefore) * 1e6) / result.requests;
      };
      if (options.together) {
        await Promise.all(order.map(measure));
        await waitForIdle([...routers.values()].map((router) => router.pid));
      } else
        for (const target of order) {
          await measure(target);
          await waitForIdle([routers.get(target)!.pid]);
        }
      offOverBare.push(rps.off / rps.bare);
      onOverOff.push(rps.on / rps.off);
      sampledOverOff.push(rps.sampled / rps.off);
      cpuOffOverBare.push(cpuUs.off / cpuUs.bare);
      cpuOnOverOff.push(cpuUs.on / cpuUs.off);
      cpuSampledOverOff.push(cpuUs.sampled / cpuUs.off);
      implicitOverOff.push(rps.implicit / rps.off);
      cpuImplicitOverOff.push(cpuUs.implicit / cpuUs.off);
      rows.push([
        round,
        order.join(' > '),
        ...targets.map((t) => round1(rps[t])),
        ...targets.map((t) => Math.round(cpuUs[t])),
        (cpuUs.off / cpuUs.bare).toFixed(3),
        (cpuUs.on / cpuUs.off).toFixed(3),
        (cpuUs.sampled / cpuUs.off).toFixed(3),
        (cpuUs.implicit / cpuUs.off).toFixed(3),
      ]);
      process.stdout.write(
        `round ${round}: req/s ${targets.map((t) => `${t} ${round1(rps[t])}`).join(', ')}; CPU µs/request ${targets.map((t) => `${t} ${Math.round(cpuUs[t])}`).join(', ')}\n`,
      );
    }
    const exported = sink.stats();
    const exports = exported.requests - exportedBefore.requests;
    if (exports === 0) throw new Error('the traced router exported nothing during the rounds');
    process.stdout.write(
      `\n${table(['round', 'order', ...targets.map((t) => `${t} req/s`), ...targets.map((t) => `${t} CPU µs/req`), 'CPU off/bare', 'on/off', 'sampled/off', 'implicit/off'], rows)}\n`,
    );
    const spread = (values: number[]) =>
      `median ${median(values).toFixed(3)}, mean ${mean(values).toFixed(3)} (min ${Math.min(...values).toFixed(3)}, max ${Math.max(...values).toFixed(3)})`;
    process.stdout.write(
      `\nrequests/s     off/bare ${spread(offOverBare)}\n               on/off ${spread(onOverOff)}\n               sampled/off ${spread(sampledOverOff)}\n               implicit/off ${spread(implicitOverOff)}\n`,
    );
    process.stdout.write(
      `CPU / request  off/bare ${spread(cpuOffOverBare)}\n               on/off ${spread(cpuOnOverOff)}\n               sampled/off ${spread(cpuSampledOverOff)}\n               implicit/off ${spread(cpuImplicitOverOff)}\n`,
    );
    process.stdout.write(
      `tracing every request: ${((median(cpuOnOverOff) - 1) * 100).toFixed(1)}% more CPU per request; 10% sampled: ${((median(cpuSampledOverOff) - 1) * 100).toFixed(1)}%; every request with the AsyncLocalStorage context manager (before): ${((median(cpuImplicitOverOff) - 1) * 100).toFixed(1)}%; the preload with tracing off: ${((median(cpuOffOverBare) - 1) * 100).toFixed(1)}% (medians)\n`,
    );
    process.stdout.write(
      `the traced router sent ${exports} OTLP exports (${round1((exported.bytes - exportedBefore.bytes) / 1024 / 1024)} MB of spans) during the rounds\n`,
    );
    return 0;
  } finally {
    await cleanup.runAll();
  }
}

process.exitCode = await main();
