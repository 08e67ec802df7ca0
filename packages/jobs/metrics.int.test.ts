import { randomBytes } from 'node:crypto';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, expect, it, vi } from 'vitest';
import { createServiceMetrics } from '@mindweave/service-kit';
import { createJobsConnection, createProducers, createWorker, type Processors, type Producers } from './index.ts';
import { observeQueues, queueStates } from './metrics.ts';

// Against the machine's Redis, on a BullMQ prefix of this test's own.
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}jobs-metrics-${randomBytes(4).toString('hex')}:bull`;
const connections: Redis[] = [];
const workers: Worker[] = [];
let producers: Producers | undefined;
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
  await producers?.close();
  const raw = new Redis(redisUrl);
  const keys = await raw.keys(`${prefix}:*`);
  if (keys.length) await raw.del(...keys);
  raw.disconnect();
  for (const connection of connections.splice(0)) connection.disconnect();
});
const connection = (role: 'worker' | 'producer') => {
  const made = createJobsConnection(redisUrl, role, 'jobs-metrics-test');
  connections.push(made);
  return made;
};

/** A histogram's series named `series` (its _count, _sum) with these labels, summed. */
const histogram = async (metrics: ReturnType<typeof createServiceMetrics>, series: string, labels: Record<string, string>) =>
  ((await metrics.registry.getSingleMetric('mw_job_duration_seconds')?.get())?.values ?? [])
    .filter(
      (v) =>
        (v as { metricName?: string }).metricName === series &&
        Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
    )
    .reduce((sum, v) => sum + v.value, 0);
const value = async (metrics: ReturnType<typeof createServiceMetrics>, name: string, labels: Record<string, string>) => {
  const metric = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return metric
    .filter((v) => Object.entries(labels).every(([k, l]) => String((v.labels as Record<string, unknown>)[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
};

it('reports queue depths per state from Redis, and each run of a job: its duration, a retried failure, a final one', async () => {
  producers = createProducers(connection('producer'), { prefix, backoffMs: 50 });
  const metrics = createServiceMetrics();
  let attempts = 0;
  const unused = async () => {
    throw new Error('not in this test');
  };
  const processors: Processors<'analytics'> = {
    // Fails once, then succeeds: one failure that is retried, one completed run.
    'daily-aggregation': async () => {
      if (++attempts === 1) throw new Error('first attempt fails');
      await new Promise((resolve) => setTimeout(resolve, 30));
    },
    'hourly-summary': unused,
    'monthly-billing': unused,
    'audit-cleanup': unused,
    'exports-cleanup': unused,
    'organization-purge': unused,
  };
  // Delayed jobs stay in their state while the test reads it.
  await producers.add('analytics', 'monthly-billing', {}, { delay: 60_000 });
  await producers.add('analytics', 'monthly-billing', {}, { delay: 60_000, jobId: 'second' });
  const worker = createWorker('analytics', processors, { connection: connection('worker'), prefix, autorun: false });
  workers.push(worker);
  observeQueues(metrics, producers.queues, [worker]);

  await metrics.registry.metrics();
  for (const state of queueStates)
    expect(await value(metrics, 'mw_queue_jobs', { queue: 'analytics', state }), state).toBe(state === 'delayed' ? 2 : 0);
  expect(await value(metrics, 'mw_queue_paused', { queue: 'analytics' })).toBe(0);
  expect(await value(metrics, 'mw_metrics_collector_up', { collector: 'queues' })).toBe(1);

  void worker.run();
  await producers.add('analytics', 'daily-aggregation', {});
  // A payload that does not validate fails for good at once (UnrecoverableError).
  await producers.queues.analytics.add('audit-cleanup', { retentionDays: 'many' });
  await vi.waitFor(
    async () => {
      expect(
        await histogram(metrics, 'mw_job_duration_seconds_count', { queue: 'analytics', name: 'daily-aggregation', status: 'completed' }),
      ).toBe(1);
      expect(
        await histogram(metrics, 'mw_job_duration_seconds_count', { queue: 'analytics', name: 'daily-aggregation', status: 'failed' }),
      ).toBe(1);
      expect(await value(metrics, 'mw_job_failures_total', { queue: 'analytics', name: 'daily-aggregation', final: 'false' })).toBe(1);
      expect(await value(metrics, 'mw_job_failures_total', { queue: 'analytics', name: 'audit-cleanup', final: 'true' })).toBe(1);
    },
    { timeout: 10_000, interval: 100 },
  );
  expect(
    await histogram(metrics, 'mw_job_duration_seconds_sum', { name: 'daily-aggregation', status: 'completed' }),
  ).toBeGreaterThanOrEqual(0.025);

  // The next scrape (a second later) reads the queue again: the failed job is kept.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await metrics.registry.metrics();
  expect(await value(metrics, 'mw_queue_jobs', { queue: 'analytics', state: 'failed' })).toBe(1);
  expect(await value(metrics, 'mw_queue_jobs', { queue: 'analytics', state: 'completed' })).toBe(1);
});
