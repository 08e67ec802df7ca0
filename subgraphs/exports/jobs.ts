import { createJobsConnection, createProducers, jobsPrefix } from '@mindweave/jobs';
import { env } from './env.ts';

/** requestExport queues a reports job; the workers run it. */
export const jobsConnection = createJobsConnection(env.REDIS_URL, 'producer', 'exports');
export const producers = createProducers(jobsConnection, { prefix: jobsPrefix(env.REDIS_KEY_PREFIX) });
