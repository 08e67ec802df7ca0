import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type ReceivedSpan } from '../scripts/otlp-receiver.ts';
import { freePort } from '../scripts/ports.ts';
import { services, startService, type Service } from '../scripts/stack.ts';
import { createTenant, gql, stack } from './client.ts';

// The shared test stack runs without OTEL_* settings (tracing off). Here the processes a usage event
// and an export go through run again with tracing on, exporting to an OTLP receiver in this process,
// on a Redis key prefix of their own, so that their events and jobs reach their own consumer and
// workers; the subgraphs they do not need are the shared stack's.

const receiver = await startOtlpReceiver({ keep: true });
const running: { stop(): Promise<void> }[] = [];
let routerUrl = '';

const service = (name: string): Service => services.find((s) => s.name === name)!;

beforeAll(async () => {
  const ports = {
    router: await freePort(),
    usage: await freePort(),
    exports: await freePort(),
    consumer: await freePort(),
    workers: await freePort(),
  };
  const subgraphUrls = stack.env['SUBGRAPH_URLS']!.split(',')
    .map((entry) => {
      const [name] = entry.split('=');
      if (name === 'usage') return `usage=http://127.0.0.1:${ports.usage}/graphql`;
      if (name === 'exports') return `exports=http://127.0.0.1:${ports.exports}/graphql`;
      return entry;
    })
    .join(',');
  const env = {
    ...process.env,
    ...stack.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    REDIS_KEY_PREFIX: `${stack.env['REDIS_KEY_PREFIX']}traced:`,
    PORT: String(ports.router),
    USAGE_PORT: String(ports.usage),
    EXPORTS_PORT: String(ports.exports),
    CONSUMER_HEALTH_PORT: String(ports.consumer),
    WORKERS_HEALTH_PORT: String(ports.workers),
    SUBGRAPH_URLS: subgraphUrls,
    EXPORTS_PUBLIC_URL: `http://127.0.0.1:${ports.router}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const start = async (name: string, port: number) =>
    running.push(await startService(service(name), env, { port, logFile: join(stack.logDir, `traced-${name}.log`) }));
  await Promise.all([
    start('usage', ports.usage),
    start('exports', ports.exports),
    start('analytics-consumer', ports.consumer),
    start('workers', ports.workers),
  ]);
  await start('router', ports.router);
  routerUrl = `http://127.0.0.1:${ports.router}/graphql`;
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((process) => process.stop()));
  // For a failure's post-mortem, beside the services' logs.
  await writeFile(join(stack.logDir, 'traced-spans.json'), JSON.stringify(receiver.spans, null, 1));
  await receiver.close();
});

/** The spans of the trace whose router operation span carries `requestId`, once `done` holds for them. */
async function traceOf(requestId: string, done: (spans: ReceivedSpan[]) => boolean, timeoutMs = 30_000): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + timeoutMs;
  let spans: ReceivedSpan[] = [];
  while (Date.now() < deadline) {
    const operation = receiver.spans.find((span) => span.service === 'router' && span.attributes['mindweave.request_id'] === requestId);
    spans = operation ? receiver.spans.filter((span) => span.traceId === operation.traceId) : [];
    if (spans.length && done(spans)) return spans;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `the trace of ${requestId} never completed; it holds: ${spans.map((s) => `${s.service}/${s.name}`).join(', ') || 'nothing'}`,
  );
}

/** Every span of a trace but its root has its parent in it: one tree, not pieces that happen to share an id. */
function expectOneTree(spans: ReceivedSpan[]) {
  const ids = new Set(spans.map((span) => span.spanId));
  const roots = spans.filter((span) => !span.parentSpanId || !ids.has(span.parentSpanId));
  expect(roots.map((span) => `${span.service}/${span.name}`)).toHaveLength(1);
  expect(roots[0]!.service).toBe('router');
}

const servicesOf = (spans: ReceivedSpan[]) => new Set(spans.map((span) => span.service));

describe('tracing (OpenTelemetry, OTLP)', () => {
  it('follows one recordUsage from the router through the usage subgraph to the analytics consumer, in one trace', async () => {
    const tenant = await createTenant();
    const requestId = `trace-${randomUUID()}`;
    const recorded = await gql(
      'mutation RecordOne($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
      { input: { model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 5, latencyMs: 20 } },
      {
        url: routerUrl,
        token: tenant.apiKey,
        headers: { 'x-request-id': requestId, 'apollographql-client-name': 'tracing-test', 'apollographql-client-version': '1.0' },
      },
    );
    expect(recorded.errors).toBeUndefined();
    expect(recorded.data).toEqual({ recordUsage: { accepted: 1 } });

    const spans = await traceOf(requestId, (found) =>
      found.some((span) => span.service === 'analytics-consumer' && span.name === 'process usage.recorded'),
    );
    const operation = spans.find((span) => span.attributes['mindweave.request_id'] === requestId)!;
    expect(operation.name).toBe('mutation RecordOne');
    expect(operation.attributes).toMatchObject({
      'graphql.operation.name': 'RecordOne',
      'graphql.operation.type': 'mutation',
      'client.name': 'tracing-test',
      'client.version': '1.0',
      'mindweave.identity.kind': 'apiKey',
    });
    expect(operation.attributes['mindweave.operation.hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(operation.attributes['mindweave.cost.estimated']).toBeGreaterThan(0);
    expect(typeof operation.attributes['mindweave.cost.actual']).toBe('number');

    // The router's fetch to usage is the parent of usage's request span: the traceparent travelled.
    const fetch = spans.find((span) => span.service === 'router' && span.name === 'subgraph usage')!;
    expect(fetch.attributes['http.response.status_code']).toBe(200);
    // The router passes its context explicitly (no context manager): operation > query plan > fetch.
    const plan = spans.find((span) => span.service === 'router' && span.name === 'query plan');
    expect(plan?.parentSpanId).toBe(operation.spanId);
    expect(fetch.parentSpanId).toBe(plan!.spanId);
    expect(plan?.attributes['mindweave.plan.fetch_count']).toBe(1);
    const usageRequest = spans.find((span) => span.service === 'usage' && span.parentSpanId === fetch.spanId);
    expect(usageRequest, 'usage request span under the router fetch').toBeDefined();
    // In usage: its resolver, and the Redis commands under it, the event's XADD among them.
    const resolver = spans.find(
      (span) => span.service === 'usage' && span.name === 'graphql.resolve' && span.attributes['graphql.field.name'] === 'recordUsage',
    );
    expect(resolver, 'the recordUsage resolver span').toBeDefined();
    expect(
      spans.some(
        (span) =>
          span.service === 'usage' &&
          span.name === 'xadd' &&
          span.parentSpanId === resolver!.spanId &&
          span.attributes['db.system.name'] === 'redis',
      ),
    ).toBe(true);
    // The consumer's handling and its SQL, in the same trace as the mutation.
    const consumed = spans.find((span) => span.service === 'analytics-consumer' && span.name === 'process usage.recorded')!;
    expect(consumed.attributes).toMatchObject({ 'messaging.consumer.group.name': expect.any(String), 'messaging.batch.message_count': 1 });
    // Its SQL (the rollups) beneath it.
    expect(
      spans.some(
        (span) =>
          span.service === 'analytics-consumer' &&
          span.parentSpanId === consumed.spanId &&
          span.attributes['db.system.name'] === 'postgresql',
      ),
    ).toBe(true);
    expect([...servicesOf(spans)]).toEqual(expect.arrayContaining(['router', 'usage', 'analytics-consumer']));
    expectOneTree(spans);
  }, 60_000);

  it('keeps the decision of a caller not to sample: no span of that trace anywhere, and usage is told (it starts no trace of its own)', async () => {
    const tenant = await createTenant();
    const resolves = () =>
      receiver.spans.filter(
        (span) => span.service === 'usage' && span.name === 'graphql.resolve' && span.attributes['graphql.field.name'] === 'recordUsage',
      ).length;
    const before = resolves();
    const traceId = randomUUID().replaceAll('-', '');
    const record = (headers: Record<string, string>) =>
      gql(
        'mutation RecordOne($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
        { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } },
        { url: routerUrl, token: tenant.apiKey, headers },
      );
    // Flags 00: the router (parent-based sampling) records nothing, makes no plan or fetch spans, and
    // passes the decision on in the fetch's traceparent.
    const unsampled = await record({ traceparent: `00-${traceId}-${'1'.repeat(16)}-00` });
    expect(unsampled.errors).toBeUndefined();
    // A sampled one after it, whose whole trace reaching the receiver bounds the wait for stray spans.
    const requestId = `trace-${randomUUID()}`;
    expect((await record({ 'x-request-id': requestId })).errors).toBeUndefined();
    await traceOf(requestId, (found) =>
      found.some((span) => span.service === 'analytics-consumer' && span.name === 'process usage.recorded'),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.spans.filter((span) => span.traceId === traceId)).toEqual([]);
    // Only the sampled request's resolver: had the traceparent not reached usage, it would have sampled a root of its own.
    expect(resolves() - before).toBe(1);
  });

  it('follows one requestExport from the router to the worker that runs the export, in one trace', async () => {
    const tenant = await createTenant();
    const requestId = `trace-${randomUUID()}`;
    const now = Date.now();
    const requested = await gql(
      'mutation Export($input: RequestExportInput!) { requestExport(input: $input) { id status } }',
      {
        input: {
          organizationId: tenant.organizationId,
          type: 'USAGE',
          format: 'CSV',
          from: new Date(now - 3_600_000).toISOString(),
          to: new Date(now + 3_600_000).toISOString(),
        },
      },
      { url: routerUrl, token: tenant.user.accessToken, headers: { 'x-request-id': requestId } },
    );
    expect(requested.errors).toBeUndefined();
    const id = requested.data!['requestExport'].id as string;

    const spans = await traceOf(
      requestId,
      (found) => found.some((span) => span.service === 'workers-reports' && span.name === 'run reports.export'),
      45_000,
    );
    const status = await gql(
      'query ($id: ID!) { exportJob(id: $id) { status } }',
      { id },
      { url: routerUrl, token: tenant.user.accessToken },
    );
    expect(status.data).toEqual({ exportJob: { status: 'SUCCEEDED' } });
    expect(spans.find((span) => span.attributes['mindweave.request_id'] === requestId)?.name).toBe('mutation Export');
    // The job was added under the exports subgraph's request, and processed by the worker in the same trace.
    expect(spans.some((span) => span.service === 'exports' && span.name.startsWith('add reports'))).toBe(true);
    expect(spans.some((span) => span.service === 'workers' && span.name.startsWith('process reports'))).toBe(true);
    // The export's own queries, in the worker's child process.
    const run = spans.find((span) => span.service === 'workers-reports' && span.name === 'run reports.export')!;
    expect(spans.some((span) => span.service === 'workers-reports' && span.parentSpanId === run.spanId)).toBe(true);
    expectOneTree(spans);
  }, 90_000);
});
