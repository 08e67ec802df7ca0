import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createEventBus, type EventEnvelope } from '@mindweave/events';
import { createLogger, createRedis } from '@mindweave/service-kit';
import { freePort } from '../scripts/ports.ts';
import { startPrivateRedis } from '../scripts/private-services.ts';
import type { EdgeInfo } from './context.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { analyzeOperation, type AnalyzedOperation } from './operation.ts';
import { indexSupergraph } from './schema-index.ts';
import { clientOf, createUsageReporter, latencyBucketsMs, otherClients, type UsageReporterOptions } from './usage-reporting.ts';

// The stack's Redis Streams under a prefix of this test's own: the reports go to a real event log.
const redis = createRedis(
  process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  `${process.env['REDIS_KEY_PREFIX'] ?? ''}usage-reporting-test-${randomUUID()}:`,
);
const log = createLogger({ name: 'usage-reporting-test', level: 'silent' });
const bus = createEventBus({ redis, clientId: 'usage-reporting-test', log, blockMs: 100 });
afterAll(async () => {
  await bus.close();
  await redis.quit();
});

const index = indexSupergraph(readFileSync(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8'));
const limits = { maxDepth: 12, maxAliases: 30, maxDirectives: 50, maxRootFields: 20, maxTokens: 5_000, defaultListSize: 10 };
function edgeInfo(query: string): EdgeInfo {
  const operation = analyzeOperation(index, query, undefined, limits) as AnalyzedOperation;
  return { operation, operationHash: randomUUID().replaceAll('-', ''), estimatedCost: 0, includeCost: false, denied: [], empty: false };
}

async function nextReports(run: () => Promise<void>, events = 1): Promise<EventEnvelope<'schema.usage_reported'>['data'][]> {
  const received: EventEnvelope[] = [];
  const tail = await bus.tail({ domains: ['schema'], handler: async (events) => void received.push(...events) });
  await run();
  await expect.poll(() => received.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(events);
  await tail.stop();
  return received.map((event) => (event as EventEnvelope<'schema.usage_reported'>).data);
}

/** A reporter on the test's event log (or `options.bus`) that reports only when flushed. */
function testReporter(router: string, options: Partial<UsageReporterOptions> & { maxOperations: number; metrics: Metrics }) {
  return createUsageReporter({ bus, schema: () => index.schema, router, intervalMs: 3_600_000, log, ...options });
}

it('reads the client from Apollo and x- headers', () => {
  const headers: Record<string, string> = { 'apollographql-client-name': 'web', 'x-client-version': '1.2' };
  expect(clientOf((name) => headers[name])).toEqual({ name: 'web', version: '1.2' });
  expect(clientOf(() => undefined)).toEqual({ name: '', version: '' });
});

it('publishes one report per interval with each operation and client counted, its coordinates and a latency histogram', async () => {
  const metrics = createMetrics();
  const reporter = testReporter('test-router', { maxOperations: 100, metrics });
  const org = edgeInfo('query Org($id: ID!) { organization(id: $id) { id name slug } }');
  const me = edgeInfo('{ me { id email } }');
  const [report] = await nextReports(async () => {
    reporter.record(org, { name: 'web', version: '2' }, 3, false);
    reporter.record(org, { name: 'web', version: '2' }, 30, true);
    reporter.record(org, { name: 'web', version: '2' }, 30_000, false);
    reporter.record(org, { name: 'cli', version: '' }, 7, false);
    reporter.record(me, { name: 'cli', version: '' }, 7, false);
    await reporter.flush();
  });
  expect(report!.router).toBe('test-router');
  expect(report!.latencyBucketsMs).toEqual(latencyBucketsMs);
  const web = report!.operations.find((op) => op.clientName === 'web')!;
  expect(web).toMatchObject({ hash: org.operationHash, name: 'Org', type: 'query', clientVersion: '2', requests: 3, errors: 1 });
  expect(web.latency).toEqual([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  expect(web.coordinates).toEqual(
    expect.arrayContaining(['Query.organization', 'Query.organization.id', 'Organization.id', 'Organization.slug', 'ID']),
  );
  expect(report!.operations.filter((op) => op.clientName === 'cli').map((op) => [op.name, op.requests])).toEqual([
    ['Org', 1],
    ['', 1],
  ]);
  expect(report!.operations.find((op) => op.hash === me.operationHash)!.coordinates).toEqual(
    expect.arrayContaining(['Query.me', 'User.email']),
  );
  // Nothing counted since: nothing sent.
  await reporter.close();
  expect((await metrics.usageReportsPublished.get()).values[0]!.value).toBe(1);
});

it('bounds its memory: past the limit new clients count per operation under (other clients), and only past twice the limit are operations dropped', async () => {
  const metrics = createMetrics();
  const reporter = testReporter('bounded', { maxOperations: 2, metrics });
  const [me, org, viewer] = ['{ me { id } }', 'query Org($id: ID!) { organization(id: $id) { id } }', '{ me { email } }'].map(edgeInfo);
  const [report] = await nextReports(async () => {
    // Invented client versions: the operation's use is still counted, under (other clients).
    for (const version of ['1', '2', '3', '4']) reporter.record(me!, { name: 'flood', version }, 1, false);
    reporter.record(me!, { name: 'flood', version: '1' }, 1, false);
    reporter.record(org!, { name: 'web', version: '' }, 1, false);
    reporter.record(viewer!, { name: 'web', version: '' }, 1, false); // a fifth pair: dropped
    await reporter.flush();
  });
  expect(report!.operations.map((o) => [o.hash, o.clientName, o.clientVersion, o.requests])).toEqual([
    [me!.operationHash, 'flood', '1', 2],
    [me!.operationHash, 'flood', '2', 1],
    [me!.operationHash, otherClients.name, '', 2],
    [org!.operationHash, otherClients.name, '', 1],
  ]);
  expect(report!.operations.find((o) => o.hash === org!.operationHash)!.coordinates).toContain('Query.organization');
  expect(report!.dropped).toBe(1);
  expect((await metrics.usageReportsDropped.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'full' }, value: 1 })]);
  await reporter.close();
});

it('splits a large report into events of at most 200 operations', async () => {
  const reporter = testReporter('large', { maxOperations: 1_000, metrics: createMetrics() });
  const op = edgeInfo('{ me { id } }');
  const reports = await nextReports(async () => {
    for (let i = 0; i < 450; i++) reporter.record(op, { name: `client-${i}`, version: '' }, 1, false);
    await reporter.flush();
  }, 3);
  expect(reports.map((r) => r.operations.length)).toEqual([200, 200, 50]);
  expect(new Set(reports.flatMap((r) => r.operations.map((o) => o.clientName))).size).toBe(450);
  await reporter.close();
});

it('drops and counts a report the log cannot take, without holding anything up', async () => {
  const metrics = createMetrics();
  // A Redis nobody listens on: the event log is down.
  const downRedis = createRedis('redis://127.0.0.1:1', 'down:');
  downRedis.on('error', () => undefined);
  const downBus = createEventBus({ redis: downRedis, clientId: 'usage-reporting-down', log });
  const reporter = testReporter('down', { bus: downBus, maxOperations: 10, publishTimeoutMs: 300, metrics });
  const op = edgeInfo('{ me { id } }');
  const started = performance.now();
  for (let i = 0; i < 1_000; i++) reporter.record(op, { name: 'web', version: '' }, 1, false);
  // Recording is a counter: a thousand take well under the time of one request.
  expect(performance.now() - started).toBeLessThan(50);
  await reporter.flush();
  expect(performance.now() - started).toBeLessThan(2_000);
  expect((await metrics.usageReportsDropped.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'log_down' }, value: 1 })]);
  await reporter.close();
  downRedis.disconnect();
});

it('accounts for every operation through an outage of the log: each one published or counted as dropped, and reporting resumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'usage-reporting-redis-'));
  const server = await startPrivateRedis(dir, await freePort());
  const ownRedis = createRedis(server.url, 'outage:');
  ownRedis.on('error', () => undefined);
  const ownBus = createEventBus({ redis: ownRedis, clientId: 'usage-reporting-outage', log, blockMs: 100 });
  const metrics = createMetrics();
  const reporter = testReporter('outage', { bus: ownBus, maxOperations: 100, publishTimeoutMs: 300, metrics });
  const published = new Set<string>();
  const tail = await ownBus.tail({
    domains: ['schema'],
    handler: async (events) => {
      for (const event of events) {
        if (event.type === 'schema.usage_reported') for (const op of event.data.operations) published.add(op.hash);
      }
    },
  });
  const dropped = async () => (await metrics.usageReportsDropped.get()).values.reduce((sum, { value }) => sum + value, 0);
  try {
    const batches = [['{ me { id } }'], ['{ me { email } }', '{ me { name } }'], ['{ me { id email } }']].map((queries) =>
      queries.map(edgeInfo),
    );
    const [before, during, after] = batches as [EdgeInfo[], EdgeInfo[], EdgeInfo[]];
    const report = async (ops: EdgeInfo[]) => {
      for (const op of ops) reporter.record(op, { name: 'web', version: '1' }, 1, false);
      await reporter.flush();
    };

    await report(before);
    await expect.poll(() => published.size, { timeout: 5_000 }).toBe(1);

    await server.stop();
    await report(during.slice(0, 1));
    // The next interval while the first report still waits on the log: dropped, not piled up beside it.
    await report(during.slice(1));
    expect(await dropped()).toBe(2);

    await server.start();
    // Reporting resumes once the log answers again (the publish given up on settles first).
    await expect
      .poll(
        async () => {
          await report(after);
          return published.has(after[0]!.operationHash);
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(true);
    // By id: the operations recorded before and after the outage were published; those recorded
    // during it are each published or counted as dropped, none silently lost.
    expect(published.has(before[0]!.operationHash)).toBe(true);
    const duringPublished = during.filter((op) => published.has(op.operationHash)).length;
    expect(duringPublished + (await dropped())).toBeGreaterThanOrEqual(during.length);
  } finally {
    await tail.stop();
    await reporter.close();
    await ownBus.close();
    ownRedis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}, 40_000);
