import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setTracingRuntime } from '@mindweave/telemetry';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

// The router decides at import whether it traces (tracing.ts): the SDK is set up first, and the
// router's modules are imported after it.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
setTracingRuntime({ flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() });
const { withPlanSpan } = await import('./tracing.ts');
const { createSubgraphAgent, SubgraphDataSource } = await import('./subgraph-source.ts');

/** A subgraph that answers each request 50 ms late, so that identical ones overlap, and keeps their headers. */
let server: Server;
const received: IncomingHttpHeaders[] = [];
let source: InstanceType<typeof SubgraphDataSource>;

beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"topProducts":[]}}'), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  source = new SubgraphDataSource('products', url, createSubgraphAgent(5_000), 'secret', createMetrics(), true);
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await provider.shutdown();
});
beforeEach(() => {
  exporter.reset();
  received.length = 0;
});

const tracer = trace.getTracer('test');
const body = '{"query":"{ topProducts { upc } }","variables":{}}';
const send = (fetchTrace: Parameters<Parameters<typeof withPlanSpan>[3]>[0]) =>
  source.send(body, { context: undefined, operationName: 'Top', query: true, fetchTrace });

/** One operation's plan with one fetch, under a span of its own (as server.ts makes the operation's). */
function operation(name: string) {
  const span = tracer.startSpan(name);
  return withPlanSpan(trace.setSpan(ROOT_CONTEXT, span), 'Top', true, (fetchTrace) => send(fetchTrace)).finally(() => span.end());
}

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

describe('subgraph fetch spans', () => {
  it('makes one span per request sent, which carries its traceparent; a fetch sharing it is counted on its plan', async () => {
    const [first, second] = await Promise.all([operation('first'), operation('second')]);
    expect(first).toEqual({ data: { topProducts: [] } });
    expect(second).toEqual(first);

    expect(received).toHaveLength(1);
    const [fetch, ...others] = spansNamed('subgraph products');
    expect(others).toHaveLength(0);
    expect(fetch!.attributes).toMatchObject({ 'mindweave.subgraph': 'products', 'http.response.status_code': 200 });
    const { traceId, spanId } = fetch!.spanContext();
    expect(received[0]!['traceparent']).toBe(`00-${traceId}-${spanId}-01`);

    const plans = spansNamed('query plan');
    expect(plans).toHaveLength(2);
    const sender = plans.find((plan) => plan.spanContext().spanId === fetch!.parentSpanContext?.spanId);
    const sharer = plans.find((plan) => plan !== sender);
    expect(sender?.attributes).toMatchObject({ 'mindweave.plan.fetch_count': 1 });
    expect(sender?.attributes['mindweave.plan.shared_fetch_count']).toBeUndefined();
    expect(sharer?.attributes).toMatchObject({ 'mindweave.plan.fetch_count': 1, 'mindweave.plan.shared_fetch_count': 1 });
  });

  it('makes no span under an operation the sampler dropped, and sends that operation its traceparent', async () => {
    const unsampled = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.NONE });
    await withPlanSpan(trace.setSpan(ROOT_CONTEXT, unsampled), 'Top', true, (fetchTrace) => send(fetchTrace));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(received.map((headers) => headers['traceparent'])).toEqual([`00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`]);
  });

  it('marks the span of a request a subgraph refused as failed', async () => {
    const refusing = createServer((_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end('no'));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/graphql`;
    const failing = new SubgraphDataSource('reviews', url, createSubgraphAgent(5_000), 'secret', createMetrics(), true);
    const span = tracer.startSpan('op');
    await expect(
      withPlanSpan(trace.setSpan(ROOT_CONTEXT, span), 'Top', true, (fetchTrace) =>
        failing.send(body, { context: undefined, operationName: 'Top', query: true, fetchTrace }),
      ),
    ).rejects.toThrow('400');
    span.end();
    await new Promise((resolve) => refusing.close(resolve));
    const [fetch] = spansNamed('subgraph reviews');
    expect(fetch?.attributes['http.response.status_code']).toBe(400);
    expect(fetch?.status.code).toBe(2);
  });
});
