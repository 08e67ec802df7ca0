import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createJobsConnection,
  createProducers,
  createWorker,
  registerSchedules,
  schedules,
  type Processors,
  type Producers,
} from './index.ts';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const unused = async () => {
  throw new Error('not in this test');
};
const analyticsProcessors = (overrides: Partial<Processors<'analytics'>>): Processors<'analytics'> => ({
  'daily-aggregation': unused,
  'hourly-summary': unused,
  'monthly-billing': unused,
  'audit-cleanup': unused,
  'exports-cleanup': unused,
  'organization-purge': unused,
  ...overrides,
});

/** Each test gets a BullMQ prefix of its own, so its queues are its own; everything is removed afterwards. */
function harness() {
  const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}jobs-test-${randomBytes(4).toString('hex')}:bull`;
  const connections: Redis[] = [];
  const workers: Worker[] = [];
  const producerSets: Producers[] = [];
  const connection = (role: 'worker' | 'producer') => {
    const made = createJobsConnection(redisUrl, role, 'jobs-test');
    connections.push(made);
    return made;
  };
  return {
    prefix,
    producers(backoffMs = 100) {
      const producers = createProducers(connection('producer'), { prefix, backoffMs });
      producerSets.push(producers);
      return producers;
    },
    worker<Q extends Parameters<typeof createWorker>[0]>(
      queue: Q,
      processors: Processors<Q>,
      options: { lockDuration?: number; stalledInterval?: number } = {},
    ) {
      const worker = createWorker(queue, processors, { connection: connection('worker'), prefix, ...options });
      workers.push(worker);
      return worker;
    },
    async cleanup() {
      await Promise.all(workers.map((worker) => worker.close(true)));
      await Promise.all(producerSets.map((producers) => producers.close()));
      const raw = new Redis(redisUrl);
      const keys = await raw.keys(`${prefix}:*`);
      if (keys.length) await raw.del(...keys);
      raw.disconnect();
      for (const made of connections) made.disconnect();
    },
  };
}

/** A worker process of its own from fixtures/, with what it prints. */
function workerProcess(fixture: string, prefix: string) {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))],
    {
      env: { ...process.env, REDIS_URL: redisUrl, JOBS_TEST_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function settled(job: Job, producers: Producers, queue: 'analytics' | 'reports' | 'email', timeout = 15_000) {
  let state = '';
  await vi.waitFor(
    async () => {
      state = await producers.queues[queue].getJobState(job.id!);
      expect(['completed', 'failed']).toContain(state);
    },
    { timeout, interval: 50 },
  );
  return { state, job: (await producers.queues[queue].getJob(job.id!))! };
}

describe('jobs', { timeout: 40_000 }, () => {
  let h: ReturnType<typeof harness>;
  afterEach(async () => {
    await h.cleanup();
  });

  it('retries a job that fails twice with exponential backoff, then it succeeds', async () => {
    h = harness();
    const producers = h.producers(150);
    const runs: number[] = [];
    h.worker(
      'analytics',
      analyticsProcessors({
        'daily-aggregation': async (_data, job) => {
          runs.push(Date.now());
          if (job.attemptsMade < 2) throw new Error(`transient failure ${job.attemptsMade + 1}`);
          return { day: 'done' };
        },
      }),
    );
    const job = await producers.add('analytics', 'daily-aggregation', { day: '2026-01-01' });
    const result = await settled(job, producers, 'analytics');
    expect(result.state).toBe('completed');
    // Three runs: two failed, the third succeeded.
    expect(result.job.attemptsMade).toBe(3);
    expect(result.job.returnvalue).toEqual({ day: 'done' });
    expect(runs).toHaveLength(3);
    const [first, second, third] = runs as [number, number, number];
    // Waits of at least 150 ms, then at least 300 ms: the base, doubled.
    expect(second - first).toBeGreaterThanOrEqual(145);
    expect(third - second).toBeGreaterThanOrEqual(295);
  });

  it('fails a job for good after its attempts, and at once when its payload is invalid', async () => {
    h = harness();
    const producers = h.producers(50);
    let runs = 0;
    h.worker(
      'analytics',
      analyticsProcessors({
        'monthly-billing': async () => {
          runs += 1;
          throw new Error('always');
        },
      }),
    );
    const failing = await settled(await producers.add('analytics', 'monthly-billing', {}), producers, 'analytics');
    expect(failing.state).toBe('failed');
    expect(runs).toBe(3);

    await expect(producers.add('analytics', 'monthly-billing', { month: 'January' })).rejects.toThrow(/YYYY-MM/);
    // A producer that skipped validation: the worker refuses the payload without retrying.
    const raw = await producers.queues.analytics.add('monthly-billing', { month: 'January' });
    const refused = await settled(raw, producers, 'analytics');
    expect(refused.state).toBe('failed');
    expect(refused.job.failedReason).toMatch(/invalid analytics\/monthly-billing payload/);
    expect(refused.job.attemptsMade).toBe(1);
    expect(runs).toBe(3);
  });

  it('hands the job of a worker killed mid-job to another worker, which completes it', async () => {
    h = harness();
    const producers = h.producers();
    const { child, output } = workerProcess('stalling-worker.ts', h.prefix);
    try {
      const job = await producers.add('reports', 'export', { exportId: randomUUID() });
      await vi.waitFor(() => expect(output()).toContain(`started ${job.id}`), { timeout: 20_000, interval: 50 });
      child.kill('SIGKILL');
      await new Promise((done) => child.once('exit', done));

      // The job is still active, its lock held by a dead process; the stalled check takes it back.
      expect(await producers.queues.reports.getJobState(job.id!)).toBe('active');
      h.worker('reports', { export: async () => 'completed by the survivor' }, { lockDuration: 1_000, stalledInterval: 300 });
      const result = await settled(job, producers, 'reports', 20_000);
      expect(result.state).toBe('completed');
      expect(result.job.returnvalue).toBe('completed by the survivor');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it("ends a sandboxed job's child process when its worker is killed", async () => {
    h = harness();
    const producers = h.producers();
    const { child: worker, output } = workerProcess('sandboxed-worker.ts', h.prefix);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    let childPid = 0;
    try {
      const job = await producers.add('reports', 'export', { exportId: randomUUID() });
      await vi.waitFor(() => expect(output()).toMatch(new RegExp(`child \\d+ runs ${job.id}`)), { timeout: 20_000, interval: 50 });
      childPid = Number(/child (\d+) runs/.exec(output())![1]);
      expect(alive(childPid)).toBe(true);
      worker.kill('SIGKILL');
      await vi.waitFor(() => expect(alive(childPid)).toBe(false), { timeout: 3_000, interval: 50 });
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
      if (childPid && alive(childPid)) process.kill(childPid, 'SIGKILL');
    }
  });

  it('lets the job in hand finish when the worker is closed (SIGTERM)', async () => {
    h = harness();
    const producers = h.producers();
    let started = false;
    const worker = h.worker(
      'analytics',
      analyticsProcessors({
        'hourly-summary': async () => {
          started = true;
          await new Promise((done) => setTimeout(done, 400));
          return 'finished';
        },
      }),
    );
    const job = await producers.add('analytics', 'hourly-summary', {});
    await vi.waitFor(() => expect(started).toBe(true), { timeout: 10_000, interval: 20 });
    await worker.close();
    expect(await producers.queues.analytics.getJobState(job.id!)).toBe('completed');
  });

  it('registers each schedule once, however many times the workers start', async () => {
    h = harness();
    const producers = h.producers();
    await registerSchedules(producers);
    await registerSchedules(producers);
    const registered = await producers.queues.analytics.getJobSchedulers();
    expect(registered.map((s) => s.key).sort()).toEqual(schedules.map((s) => s.id).sort());
    for (const schedule of schedules) {
      const found = registered.find((s) => s.key === schedule.id);
      expect(found).toMatchObject({ pattern: schedule.pattern, tz: 'UTC', name: schedule.name });
    }
    // One pending run per scheduler, not one per registration.
    expect(await producers.queues.analytics.getDelayedCount()).toBe(schedules.length);

    // A changed pattern updates the scheduler in place; one no longer configured is removed.
    const changed = [{ ...schedules[0], pattern: '30 2 * * *' }];
    await registerSchedules(producers, changed);
    const after = await producers.queues.analytics.getJobSchedulers();
    expect(after.map((s) => [s.key, s.pattern])).toEqual([['daily-aggregation', '30 2 * * *']]);
  });
});
