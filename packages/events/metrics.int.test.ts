import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { createLogger, createRedis, createServiceMetrics } from '@mindweave/service-kit';
import { freePort } from '../../scripts/ports.ts';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { createEvent, createEventBus, observeConsumerLag, topicOf, type ConsumerSubscription } from './index.ts';

// On Redis Streams (the machine's Redis, a key prefix of this test's own). No Kafka broker runs
// here; the gauges read the same `lag()` that the transports' contract tests cover.
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}events-metrics-${randomBytes(4).toString('hex')}:`;
const redis = createRedis(redisUrl, prefix);
const log = createLogger({ name: 'events-metrics-test', level: 'silent' });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  // KEYS takes the pattern as it is (no key prefix applied); DEL gets it added back, so it is taken off first.
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys.map((key) => key.slice(prefix.length)));
});
afterAll(() => redis.quit());

const usage = (n: number) =>
  createEvent(
    'usage.recorded',
    `usage-${n}`,
    {
      organizationId: 'org-1',
      projectId: 'prj-1',
      apiKeyId: 'key-1',
      model: 'gpt-test',
      inputTokens: 10,
      outputTokens: 20,
      latencyMs: 5,
      costUsd: 0.001,
      unpricedModel: false,
      occurredAt: new Date().toISOString(),
      metadata: {},
    },
    {},
  );

/** The gauge's value for the group on the usage stream, as a scrape reads it (each a second apart, so that Redis is asked again). */
async function scrape(metrics: ReturnType<typeof createServiceMetrics>, group: string) {
  await sleep(1_050);
  const text = await metrics.registry.metrics();
  const read = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{group="${group}",stream="${topicOf('usage')}"} `));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  return { lag: read('mw_consumer_lag'), pending: read('mw_consumer_pending'), deadLettered: read('mw_consumer_dead_lettered') };
}

it("reads a group's lag, pending and dead-lettered counts on each stream from Redis at scrape time", { timeout: 30_000 }, async () => {
  const bus = createEventBus({ redis, clientId: 'events-metrics-test', log, claimIdleMs: 60_000, blockMs: 100 });
  stops.push(() => bus.close());
  const group = `metrics-${randomBytes(3).toString('hex')}`;
  // A poison entry first (dead-lettered on delivery), then three events in entries of their own.
  await redis.xadd(topicOf('usage'), '*', 'envelope', '{not json');
  for (let n = 1; n <= 3; n++) await bus.publish([usage(n)]);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let handled = 0;
  const subscription: ConsumerSubscription = await bus.consume({
    group,
    consumer: 'c1',
    domains: ['usage'],
    batchSize: 1,
    handler: async (events) => {
      // The first event is held: it stays pending, and the entries after it wait undelivered.
      if (handled++ === 0) await held;
      expect(events).toHaveLength(1);
    },
  });
  stops.push(() => subscription.stop());
  const metrics = createServiceMetrics();
  observeConsumerLag(metrics, subscription);

  await vi.waitFor(() => expect(handled).toBe(1), { timeout: 5_000 });
  expect(await scrape(metrics, group)).toEqual({ lag: 2, pending: 1, deadLettered: 1 });
  release();
  await vi.waitFor(() => expect(handled).toBe(3), { timeout: 5_000 });
  await vi.waitFor(async () => expect(await scrape(metrics, group)).toEqual({ lag: 0, pending: 0, deadLettered: 1 }), { timeout: 10_000 });
  expect((await metrics.registry.metrics()).includes('mw_metrics_collector_up{collector="consumer_lag"} 1')).toBe(true);
});

it('answers the scrape without the gauges while Redis is down, and with them once it is back', { timeout: 60_000 }, async () => {
  // A Redis of this test's own, to stop: the machine's is shared.
  const dir = await mkdtemp(join(tmpdir(), 'events-metrics-redis-'));
  const server = await startPrivateRedis(dir, await freePort());
  const client = createRedis(server.url);
  client.on('error', () => undefined);
  stops.push(async () => {
    client.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const bus = createEventBus({ redis: client, clientId: 'events-metrics-down', log, blockMs: 100 });
  stops.unshift(() => bus.close());
  const subscription = await bus.consume({ group: 'down', consumer: 'c1', domains: ['usage'], handler: async () => undefined });
  stops.unshift(() => subscription.stop());
  const metrics = createServiceMetrics();
  observeConsumerLag(metrics, subscription);
  const up = async () => {
    await sleep(1_050);
    const started = performance.now();
    const text = await metrics.registry.metrics();
    return {
      ms: performance.now() - started,
      up: /^mw_metrics_collector_up\{collector="consumer_lag"\} (\d)/m.exec(text)?.[1],
      lag: text.includes('mw_consumer_lag{group="down"'),
      node: text.includes('process_cpu_seconds_total '),
    };
  };
  expect(await up()).toMatchObject({ up: '1', lag: true, node: true });

  await server.stop();
  const down = await up();
  expect(down).toMatchObject({ up: '0', lag: false, node: true });
  // Within the collector's 2 s timeout (and the client's own 1 s command timeout), however long Redis stays away.
  expect(down.ms).toBeLessThan(2_500);

  await server.start();
  await vi.waitFor(async () => expect(await up()).toMatchObject({ up: '1', lag: true }), { timeout: 20_000, interval: 0 });
});
