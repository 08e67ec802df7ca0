import type { Job, Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ServiceMetrics } from '@mindweave/service-kit';
import { jobSchemas, type QueueName } from './queues.ts';

/** The states a queue's depth is reported in. BullMQ 6 has no `paused` list: a paused queue's jobs stay waiting (`mw_queue_paused`). */
export const queueStates = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed', 'completed'] as const;

/**
 * BullMQ on /metrics: each queue's depth per state, asked of Redis when scraped (within
 * `timeoutMs`; a Redis that does not answer leaves them out and sets
 * `mw_metrics_collector_up{collector="queues"}` to 0), and the duration and failures of the jobs
 * this process' workers run, from the workers' events (sandboxed workers emit them too).
 */
export function observeQueues(metrics: ServiceMetrics, queues: Record<QueueName, Queue>, workers: Worker[], timeoutMs = 2_000) {
  const read = metrics.atScrape(
    'queues',
    () =>
      Promise.all(
        Object.entries(queues).map(async ([name, queue]) => ({
          name,
          counts: await queue.getJobCounts(...queueStates),
          paused: await queue.isPaused(),
        })),
      ),
    timeoutMs,
  );
  new Gauge({
    name: 'mw_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (every worker process reports the same queues: aggregate with max)',
    labelNames: ['queue', 'state'],
    registers: [metrics.registry],
    async collect() {
      const counts = await read();
      this.reset();
      for (const { name, counts: byState } of counts ?? [])
        for (const state of queueStates) this.set({ queue: name, state }, byState[state] ?? 0);
    },
  });
  new Gauge({
    name: 'mw_queue_paused',
    help: 'Whether the queue is paused (its waiting jobs do not start)',
    labelNames: ['queue'],
    registers: [metrics.registry],
    async collect() {
      const queues = await read();
      this.reset();
      for (const { name, paused } of queues ?? []) this.set({ queue: name }, paused ? 1 : 0);
    },
  });

  const duration = new Histogram({
    name: 'mw_job_duration_seconds',
    help: "Runs of jobs by this process' workers, from start to completion or failure",
    labelNames: ['queue', 'name', 'status'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [metrics.registry],
  });
  const failures = new Counter({
    name: 'mw_job_failures_total',
    help: 'Failed runs of jobs by this process\' workers; final="true" when the job failed for good (no attempts left, or unrecoverable)',
    labelNames: ['queue', 'name', 'final'],
    registers: [metrics.registry],
  });
  // `name`, not `job`: Prometheus gives every series the `job` of its scrape. A job name outside the
  // queue's configuration (a stray producer) must not add series.
  const jobLabel = (queue: string, job: Job) => (job.name in ((jobSchemas as Record<string, object>)[queue] ?? {}) ? job.name : 'other');
  const seconds = (job: Job) => ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000;
  for (const worker of workers) {
    worker.on('completed', (job) =>
      duration.observe({ queue: worker.name, name: jobLabel(worker.name, job), status: 'completed' }, seconds(job)),
    );
    worker.on('failed', (job) => {
      // A stalled job failed by the stalled-jobs check comes without its Job.
      if (!job) return failures.inc({ queue: worker.name, name: 'other', final: 'true' });
      const labels = { queue: worker.name, name: jobLabel(worker.name, job) };
      if (job.processedOn) duration.observe({ ...labels, status: 'failed' }, seconds(job));
      // BullMQ sets finishedOn only when it moves the job to failed; a retried one is delayed or waits again.
      failures.inc({ ...labels, final: String(job.finishedOn !== undefined) });
    });
  }
}
