import { pathToFileURL } from 'node:url';
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { siblingModule } from '@mindweave/service-kit';
import { serviceNameOf } from '@mindweave/telemetry';
import { jobsTelemetry } from './telemetry.ts';
import {
  defaultJobOptions,
  jobSchemas,
  priorities,
  queueNames,
  queueSettings,
  schemaOf,
  type JobData,
  type JobName,
  type Priority,
  type QueueName,
} from './queues.ts';

/**
 * A Redis connection of BullMQ's own: no key prefix (BullMQ has its `prefix` option) and, for
 * workers, no limit on retries per request, so that a blocking read survives a reconnect. Producers
 * answering a request (`role: 'producer'`) fail fast instead.
 */
export function createJobsConnection(url: string, role: 'worker' | 'producer', name: string = role): Redis {
  const connection = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    connectTimeout: 2_000,
    connectionName: `mindweave-jobs:${name}`.replace(/\s/g, '_'),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // BullMQ reports its own failures; this only keeps ioredis from printing each reconnect error.
  connection.on('error', () => undefined);
  return connection;
}

export interface AddOptions {
  /** A job id already in the queue is not added again: derive it from what makes the job unique (an event id). */
  jobId?: string;
  priority?: Priority;
  delay?: number;
}

export interface ProducerOptions {
  prefix: string;
  /** Overrides every queue's backoff base (tests and benchmarks use short ones). */
  backoffMs?: number;
  /** How long an add may wait for Redis (default 10 s): BullMQ would wait for it to come back. */
  addTimeoutMs?: number;
}

/** `work`, or a failure once `ms` have passed: the job may still be added later (its id keeps it once). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the job queue timed out after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function optionsOf(options: AddOptions = {}) {
  return {
    ...(options.jobId ? { jobId: options.jobId } : {}),
    ...(options.priority ? { priority: priorities[options.priority] } : {}),
    ...(options.delay ? { delay: options.delay } : {}),
  };
}

/** Typed, validated producers for every queue; one Redis connection for all of them. */
export function createProducers(connection: Redis, options: ProducerOptions) {
  const queues = Object.fromEntries(
    queueNames.map((name) => [
      name,
      new Queue(name, {
        connection,
        prefix: options.prefix,
        defaultJobOptions: defaultJobOptions(name, options.backoffMs),
        telemetry: jobsTelemetry(),
      }),
    ]),
  ) as Record<QueueName, Queue>;
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  const addTimeoutMs = options.addTimeoutMs ?? 10_000;

  const validate = <Q extends QueueName>(queue: Q, name: string, data: unknown) => {
    const schema = schemaOf(queue, name);
    if (!schema) throw new Error(`unknown job ${queue}/${name}`);
    return schema.parse(data);
  };

  return {
    queues,
    /** Throws, adding nothing, when the payload does not validate. */
    async add<Q extends QueueName, N extends JobName<Q>>(queue: Q, name: N, data: JobData<Q, N>, addOptions?: AddOptions): Promise<Job> {
      return within(addTimeoutMs, queues[queue].add(name, validate(queue, name, data), optionsOf(addOptions)));
    },
    /** Adds every job or none (one MULTI); each is validated first. */
    async addBulk<Q extends QueueName, N extends JobName<Q>>(
      queue: Q,
      jobs: { name: N; data: JobData<Q, N>; options?: AddOptions }[],
    ): Promise<Job[]> {
      if (jobs.length === 0) return [];
      return within(
        addTimeoutMs,
        queues[queue].addBulk(
          jobs.map((job) => ({ name: job.name, data: validate(queue, job.name, job.data), opts: optionsOf(job.options) })),
        ),
      );
    },
    async close() {
      await Promise.all(Object.values(queues).map((queue) => queue.close()));
    },
  };
}

export type Producers = ReturnType<typeof createProducers>;

/** One handler per job name of the queue, given the validated payload. */
export type Processors<Q extends QueueName> = { [N in JobName<Q>]: (data: JobData<Q, N>, job: Job) => Promise<unknown> };

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  /** Defaults to the queue's configured concurrency. */
  concurrency?: number;
  /** How long a job's lock lasts without renewal; a dead worker's job is taken back after about this. */
  lockDuration?: number;
  stalledInterval?: number;
  autorun?: boolean;
  name?: string;
}

/**
 * A BullMQ worker for `queue` with its configured concurrency and rate limit. A payload that does
 * not validate, or a job name without a handler, fails at once (UnrecoverableError: no retries).
 */
export function createWorker<Q extends QueueName>(queue: Q, processors: Processors<Q>, options: WorkerOptions): Worker {
  const settings = queueSettings[queue];
  const handlers = processors as Record<string, (data: unknown, job: Job) => Promise<unknown>>;
  const worker = new Worker(
    queue,
    async (job: Job) => {
      const handler = handlers[job.name];
      const schema = (
        jobSchemas[queue] as Record<string, { safeParse(value: unknown): { success: boolean; data?: unknown; error?: Error } }>
      )[job.name];
      if (!handler || !schema) throw new UnrecoverableError(`no handler for ${queue}/${job.name}`);
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${queue}/${job.name} payload: ${parsed.error?.message}`);
      return handler(parsed.data, job);
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? settings.concurrency,
      ...('limiter' in settings ? { limiter: settings.limiter } : {}),
      ...(options.lockDuration ? { lockDuration: options.lockDuration } : {}),
      ...(options.stalledInterval ? { stalledInterval: options.stalledInterval } : {}),
      ...(options.name ? { name: options.name } : {}),
      autorun: options.autorun ?? true,
      telemetry: jobsTelemetry(),
    },
  );
  return worker;
}

const exitWithParent = pathToFileURL(siblingModule(import.meta.url, './exit-with-parent')).href;

/**
 * A worker whose jobs run in a child process (BullMQ's sandboxed processor): `processorFile`
 * exports the processor as its default and validates payloads itself (`parseJob`). For long,
 * CPU-bound jobs: they neither hold up the other queues' jobs nor leave their memory behind, and
 * `execArgv` can tune the child's heap for them. Each child exits with its worker (exit-with-parent.ts).
 */

export function createSandboxedWorker(queue: QueueName, processorFile: string, options: WorkerOptions & { execArgv?: string[] }): Worker {
  const settings = queueSettings[queue];
  return new Worker(queue, processorFile, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency ?? settings.concurrency,
    ...('limiter' in settings ? { limiter: settings.limiter } : {}),
    ...(options.lockDuration ? { lockDuration: options.lockDuration } : {}),
    ...(options.stalledInterval ? { stalledInterval: options.stalledInterval } : {}),
    ...(options.name ? { name: options.name } : {}),
    // With tracing, the children (which run the same preload) report as `<service>-<queue>` (workers-reports).
    workerForkOptions: {
      execArgv: [...process.execArgv, '--import', exitWithParent, ...(options.execArgv ?? [])],
      ...(jobsTelemetry() ? { env: { ...process.env, OTEL_SERVICE_NAME: `${serviceNameOf(process.argv[1])}-${queue}` } } : {}),
    },
    autorun: options.autorun ?? true,
    telemetry: jobsTelemetry(),
  });
}

/** A sandboxed job's payload, validated (UnrecoverableError when it does not fit its schema). */
export function parseJob<Q extends QueueName, N extends JobName<Q>>(
  queue: Q,
  name: N,
  job: { name: string; data: unknown },
): JobData<Q, N> {
  const schema = schemaOf(queue, job.name);
  if (job.name !== name || !schema) throw new UnrecoverableError(`no handler for ${queue}/${job.name}`);
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid ${queue}/${job.name} payload: ${parsed.error.message}`);
  return parsed.data as JobData<Q, N>;
}

/** The last attempt of a job: failing now fails it for good. */
export const isFinalAttempt = (job: { attemptsMade: number; opts: { attempts?: number } }) =>
  job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
