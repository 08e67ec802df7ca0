// `pnpm bench:metrics`: what the metrics cost, side by side in one run.
// 1. Per operation: a subgraph's GraphQL server (graphql-yoga, as packages/subgraph-kit serves it)
//    with and without the metrics plugin, the same trivial query (the worst case: the cheaper the
//    operation, the larger the plugin's share) under 100 operation names, in short alternating batches.
// 2. Per scrape: how long /metrics' body takes with Node's defaults and 200 operations observed,
//    and what that is at Prometheus' 15 s interval.
// 3. At idle: the CPU and memory of Node processes side by side for the same seconds: bare, with
//    prom-client loaded, with Node's default metrics (their event-loop delay monitor and GC
//    observer run all the time).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { createServiceMetrics } from '../../packages/service-kit/index.ts';
import { operationMetrics } from '../../packages/subgraph-kit/server.ts';
import { repoRoot } from '../../scripts/stack.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '1.5' },
    idle: { type: 'string', default: '10' },
  },
});
// About rounds x seconds of operations for each side.
const rounds = Number(values.rounds);
const roundMs = Number(values.seconds) * 1000;
const idleSeconds = Number(values.idle);

const schema = buildSchema('type Query { organization(id: ID!): Organization } type Organization { id: ID! name: String! slug: String! }');
Object.assign(schema.getQueryType()!.getFields()['organization']!, {
  resolve: (_: unknown, { id }: { id: string }) => ({ id, name: 'Acme', slug: 'acme' }),
});
const plain = createYoga({ schema, logging: false, graphiql: false, landingPage: false });
const metrics = createServiceMetrics();
const measured = createYoga({ schema, logging: false, graphiql: false, landingPage: false, plugins: [operationMetrics(metrics)] });
const names = Array.from({ length: 100 }, (_, i) => `Dashboard${i}__accounts__0`);
const bodies = names.map((name) =>
  JSON.stringify({
    query: `query ${name}($id: ID!) { organization(id: $id) { id name slug } }`,
    variables: { id: '1' },
    operationName: name,
  }),
);

/** `count` operations one after another; their seconds. */
async function batch(yoga: typeof plain, count: number, offset: number) {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const response = await yoga.fetch('http://subgraph/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bodies[(offset + i) % bodies.length]!,
    });
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.text();
  }
  return (performance.now() - started) / 1000;
}

// Short batches, alternating (and which goes first alternating too), so that whatever else the
// machine does falls on both alike; warmed up first.
const perBatch = 200;
const batches = Math.round(((rounds * roundMs) / 1000) * 20);
process.stdout.write(`per operation: ${batches} alternating batches of ${perBatch} operations each, one trivial query under 100 names\n`);
for (let i = 0; i < 10; i++) {
  await batch(plain, perBatch, i);
  await batch(measured, perBatch, i);
}
const seconds = { without: [] as number[], with: [] as number[] };
for (let i = 0; i < batches; i++) {
  const pair =
    i % 2
      ? ([
          ['with', measured],
          ['without', plain],
        ] as const)
      : ([
          ['without', plain],
          ['with', measured],
        ] as const);
  for (const [kind, yoga] of pair) seconds[kind].push(await batch(yoga, perBatch, i * perBatch));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (xs: number[]) => (xs.length * perBatch) / xs.reduce((a, b) => a + b, 0);
const ratios = seconds.without.map((w, i) => w / seconds.with[i]!);
process.stdout.write(
  `  without metrics ${rate(seconds.without).toFixed(0)} operations/s, with ${rate(seconds.with).toFixed(0)} operations/s: with/without ${(rate(seconds.with) / rate(seconds.without)).toFixed(3)} overall, median of the batch pairs ${median(ratios).toFixed(3)}; ${((1e6 * (median(seconds.with) - median(seconds.without))) / perBatch).toFixed(1)} µs per operation (medians)\n`,
);

// 2. A scrape's body, once 200 operation names were observed (the label's bound).
for (let i = 0; i < 200; i++)
  await measured.fetch('http://subgraph/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `query Op${i} { organization(id: "1") { id } }`, operationName: `Op${i}` }),
  });
const scrapes = 100;
const body = await metrics.registry.metrics();
const scrapeStarted = performance.now();
for (let i = 0; i < scrapes; i++) await metrics.registry.metrics();
const scrapeMs = (performance.now() - scrapeStarted) / scrapes;
process.stdout.write(
  `per scrape: ${scrapeMs.toFixed(2)} ms for ${(Buffer.byteLength(body) / 1024).toFixed(0)} KB (${body.split('\n').filter((l) => l && !l.startsWith('#')).length} series); every 15 s that is ${((scrapeMs / 15_000) * 100).toFixed(3)}% of a core\n`,
);

// 3. Idle: three processes at once, the same seconds: bare Node, Node with prom-client loaded, and
// with Node's default metrics collecting.
const ticks = async (pid: number) => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
const rssMb = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const programs = {
  bare: "await import('node:http'); setInterval(() => {}, 1e9);",
  'prom-client loaded': "await import('prom-client'); setInterval(() => {}, 1e9);",
  'default metrics':
    "const p = await import('prom-client'); p.collectDefaultMetrics({ register: new p.Registry() }); setInterval(() => {}, 1e9);",
};
const children = Object.entries(programs).map(([name, program]) => ({
  name,
  child: spawn(process.execPath, ['--input-type=module', '-e', program], { cwd: join(repoRoot, 'packages/service-kit'), stdio: 'ignore' }),
}));
await new Promise((resolve) => setTimeout(resolve, 2_000));
const start = await Promise.all(children.map(({ child }) => ticks(child.pid!)));
await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
const end = await Promise.all(children.map(({ child }) => ticks(child.pid!)));
const rss = await Promise.all(children.map(({ child }) => rssMb(child.pid!)));
for (const { child } of children) child.kill();
// Clock ticks are 10 ms.
process.stdout.write(
  `at idle, ${idleSeconds} s side by side: ${children.map(({ name }, i) => `${name} ${(end[i]! - start[i]!) * 10} ms of CPU, ${rss[i]!.toFixed(1)} MB RSS`).join('; ')}\n`,
);
