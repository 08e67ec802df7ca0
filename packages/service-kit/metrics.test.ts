import { createServer } from 'node:http';
import { Gauge } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { boundedLabel, createServiceMetrics, type ServiceMetrics } from './metrics.ts';
import { closeServer, listen } from './process.ts';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

/** The registry behind a real HTTP server, as Prometheus reaches it. */
async function serve(metrics: ServiceMetrics) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://test').pathname;
    if (!(await metrics.handle(req, res, path))) res.writeHead(404).end();
  });
  servers.push(server);
  const port = await listen(server, 0);
  return (path = '/metrics', method = 'GET') => fetch(`http://127.0.0.1:${port}${path}`, { method });
}

/** A sample's value in the exposition text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it("serves Node's default metrics under their standard names", async () => {
  const scrape = await serve(createServiceMetrics());
  const response = await scrape();
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  for (const family of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
    'nodejs_gc_duration_seconds',
  ]) {
    expect(text).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
  }
  expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  expect((await scrape('/metrics', 'HEAD')).status).toBe(200);
  expect((await scrape('/metrics', 'POST')).status).toBe(404);
  expect((await scrape('/other')).status).toBe(404);
});

it('reads a collector once per scrape for all its gauges, and again at the next scrape', async () => {
  const metrics = createServiceMetrics();
  let calls = 0;
  const read = metrics.atScrape('lag', async () => ({ lag: ++calls * 10, pending: calls }));
  new Gauge({
    name: 'test_lag',
    help: 'lag',
    registers: [metrics.registry],
    async collect() {
      this.set((await read())?.lag ?? -1);
    },
  });
  new Gauge({
    name: 'test_pending',
    help: 'pending',
    registers: [metrics.registry],
    async collect() {
      this.set((await read())?.pending ?? -1);
    },
  });
  const scrape = await serve(metrics);

  const first = await (await scrape()).text();
  expect(calls).toBe(1);
  expect(sample(first, 'test_lag')).toBe(10);
  expect(sample(first, 'test_pending')).toBe(1);
  expect(sample(first, 'mw_metrics_collector_up{collector="lag"}')).toBe(1);
  // Prometheus scrapes every few seconds; a reading a second old is not reused.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const second = await (await scrape()).text();
  expect(calls).toBe(2);
  expect(sample(second, 'test_lag')).toBe(20);
});

it('answers the scrape within the timeout while a collector hangs, and joins the hanging call instead of repeating it', async () => {
  const metrics = createServiceMetrics();
  let calls = 0;
  let answer: (value: number) => void = () => undefined;
  // What ioredis does with a command while Redis is down: holds it until Redis is back.
  const read = metrics.atScrape(
    'queues',
    () => (++calls === 1 ? new Promise<number>((resolve) => (answer = resolve)) : Promise.resolve(9)),
    200,
  );
  const depth = new Gauge({
    name: 'test_depth',
    help: 'depth',
    labelNames: ['queue'],
    registers: [metrics.registry],
    async collect() {
      const value = await read();
      this.reset();
      if (value !== undefined) this.set({ queue: 'email' }, value);
    },
  });
  expect(depth).toBeDefined();
  const scrape = await serve(metrics);

  const started = performance.now();
  const text = await (await scrape()).text();
  expect(performance.now() - started).toBeLessThan(1_000);
  expect(sample(text, 'test_depth{queue="email"}')).toBeUndefined();
  expect(sample(text, 'mw_metrics_collector_up{collector="queues"}')).toBe(0);
  expect(text).toContain('process_cpu_seconds_total');

  await new Promise((resolve) => setTimeout(resolve, 1_100));
  expect(sample(await (await scrape()).text(), 'mw_metrics_collector_up{collector="queues"}')).toBe(0);
  expect(calls).toBe(1);
  // Redis is back: the call in flight answers, and the next scrape asks again.
  answer(7);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const recovered = await (await scrape()).text();
  expect(calls).toBe(2);
  expect(sample(recovered, 'test_depth{queue="email"}')).toBe(9);
  expect(sample(recovered, 'mw_metrics_collector_up{collector="queues"}')).toBe(1);
});

it('bounds a label to its first distinct values', () => {
  const label = boundedLabel(2, 10);
  expect([label('A'), label('B'), label('C'), label('A'), label(undefined), label(''), label('x'.repeat(11))]).toEqual([
    'A',
    'B',
    'other',
    'A',
    'anonymous',
    'anonymous',
    'other',
  ]);
});
