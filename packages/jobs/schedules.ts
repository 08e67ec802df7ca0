import type { Producers } from './producers.ts';
import type { JobData, JobName } from './queues.ts';

type Schedule<N extends JobName<'analytics'>> = { id: string; name: N; pattern: string; data: JobData<'analytics', N> };

/** Recurring jobs (cron patterns in UTC), registered at every start of the workers. */
export const schedules = [
  { id: 'daily-aggregation', name: 'daily-aggregation', pattern: '0 1 * * *', data: {} },
  // A few minutes past the hour, so that the previous hour's events have been persisted.
  { id: 'hourly-summary', name: 'hourly-summary', pattern: '5 * * * *', data: {} },
  { id: 'monthly-billing', name: 'monthly-billing', pattern: '0 6 1 * *', data: {} },
  { id: 'audit-cleanup', name: 'audit-cleanup', pattern: '0 3 * * 0', data: { retentionDays: 90 } },
  { id: 'exports-cleanup', name: 'exports-cleanup', pattern: '20 * * * *', data: {} },
  { id: 'organization-purge', name: 'organization-purge', pattern: '0 4 * * *', data: {} },
] as const satisfies Schedule<JobName<'analytics'>>[];

/**
 * Creates or updates each job scheduler (upsert: registering twice leaves one), and removes
 * schedulers of the analytics queue that are no longer configured.
 */
export async function registerSchedules(
  producers: Producers,
  configured: readonly Schedule<JobName<'analytics'>>[] = schedules,
): Promise<string[]> {
  const queue = producers.queues.analytics;
  for (const schedule of configured) {
    await queue.upsertJobScheduler(schedule.id, { pattern: schedule.pattern, tz: 'UTC' }, { name: schedule.name, data: schedule.data });
  }
  const wanted = new Set(configured.map((schedule) => schedule.id));
  for (const existing of await queue.getJobSchedulers()) {
    if (existing.key && !wanted.has(existing.key)) await queue.removeJobScheduler(existing.key);
  }
  return configured.map((schedule) => schedule.id);
}
