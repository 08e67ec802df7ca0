// The stack's footprint (README "Performance"): total resident memory of its processes at idle and
// the time until every one is ready, running from the TypeScript source through tsx (`npm start`)
// against running from the build with plain node (production), in alternating rounds of one run.
// BENCH_ROUNDS (2) rounds of each; BENCH_IDLE_SECONDS (30) of idle before memory is read: V8 returns
// the heap a process grew while starting some 10-30 s after (the router's, about 50 MB), so an
// earlier reading measures the start, not the idle.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../scripts/build.ts';
import { freePortRange } from '../../scripts/ports.ts';
import { dropDatabase, ensureDatabase, startStack } from '../../scripts/stack.ts';
import { deleteRedisKeys, positiveInt } from '../lib/harness.ts';
import { pssMb, rssMb } from '../lib/procs.ts';

const rounds = positiveInt('BENCH_ROUNDS', process.env['BENCH_ROUNDS'], 2);
const idleSeconds = positiveInt('BENCH_IDLE_SECONDS', process.env['BENCH_IDLE_SECONDS'], 30);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

type From = 'source' | 'build';
interface Measure {
  readySeconds: number;
  totalRssMb: number;
  /** What the processes really hold together: the pages they share (the node binary) counted once. */
  totalPssMb: number;
  byService: Record<string, number>;
}

async function measure(from: From, round: number): Promise<Measure> {
  const runId = randomBytes(4).toString('hex');
  const databaseUrl = `postgresql://postgres@127.0.0.1:5432/mindweave_footprint_${runId}`;
  const keyPrefix = `mwfootprint:${runId}:`;
  const logDir = await mkdtemp(join(tmpdir(), `mindweave-footprint-${runId}-`));
  await ensureDatabase(databaseUrl);
  process.env['MW_RUN_FROM'] = from;
  const basePort = await freePortRange(20, 40_000, 60_000);
  const started = performance.now();
  // Migrations run at the first start of a database: each round starts on a fresh one, alike.
  const stack = await startStack({ basePort, databaseUrl, redisUrl, logDir, env: { NODE_ENV: 'test', REDIS_KEY_PREFIX: keyPrefix } }).catch(
    (error: unknown) => {
      throw new Error(`the stack did not start from ${from} (logs kept in ${logDir})`, { cause: error });
    },
  );
  const readySeconds = (performance.now() - started) / 1000;
  try {
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const byService = Object.fromEntries(stack.processes.map(({ name, pid }) => [name, rssMb(pid)]));
    const totalRssMb = Object.values(byService).reduce((sum, mb) => sum + mb, 0);
    const totalPssMb = stack.processes.reduce((sum, { pid }) => sum + pssMb(pid), 0);
    process.stdout.write(
      `round ${round} from ${from.padEnd(6)}  ready in ${readySeconds.toFixed(1)} s  total RSS ${totalRssMb.toFixed(0)} MB, PSS ${totalPssMb.toFixed(0)} MB  (${Object.entries(
        byService,
      )
        .map(([name, mb]) => `${name} ${mb.toFixed(0)}`)
        .join(', ')})\n`,
    );
    return { readySeconds, totalRssMb, totalPssMb, byService };
  } finally {
    await stack.stop();
    await dropDatabase(databaseUrl);
    await deleteRedisKeys(redisUrl, keyPrefix);
    await rm(logDir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const built = await build();
process.stdout.write(
  `built ${built.files} files in ${built.seconds.toFixed(1)} s; ${rounds} rounds of each, ${idleSeconds} s idle before reading memory\n`,
);
const results: Record<From, Measure[]> = { source: [], build: [] };
for (let round = 1; round <= rounds; round++) {
  // Alternating, the order swapped each round, so that neither always meets a cold or a warm machine.
  for (const from of round % 2 ? (['source', 'build'] as const) : (['build', 'source'] as const))
    results[from].push(await measure(from, round));
}

const summary = (from: From) => ({
  rss: median(results[from].map((m) => m.totalRssMb)),
  pss: median(results[from].map((m) => m.totalPssMb)),
  ready: median(results[from].map((m) => m.readySeconds)),
});
const source = summary('source');
const fromBuild = summary('build');
process.stdout.write(
  `\nmedian of ${rounds}: total RSS at idle ${source.rss.toFixed(0)} MB from source, ${fromBuild.rss.toFixed(0)} MB from the build (${(fromBuild.rss / source.rss).toFixed(2)}x); PSS ${source.pss.toFixed(0)} against ${fromBuild.pss.toFixed(0)} MB (${(fromBuild.pss / source.pss).toFixed(2)}x); ready in ${source.ready.toFixed(1)} s from source, ${fromBuild.ready.toFixed(1)} s from the build (${(fromBuild.ready / source.ready).toFixed(2)}x)\n`,
);
process.stdout.write('per service, last round (MB, source / build):\n');
for (const name of Object.keys(results.build.at(-1)!.byService)) {
  process.stdout.write(
    `  ${name.padEnd(20)} ${results.source.at(-1)!.byService[name]!.toFixed(0).padStart(5)} / ${results.build.at(-1)!.byService[name]!.toFixed(0).padStart(5)}\n`,
  );
}
