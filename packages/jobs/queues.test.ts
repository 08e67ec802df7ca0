import { describe, expect, it } from 'vitest';
import { defaultJobOptions, jobIdOf, jobSchemas, jobsPrefix, keepCompleted, keepFailed, priorities, queueSettings } from './queues.ts';
import { schedules } from './schedules.ts';

describe('queue configuration', () => {
  it('holds the queues as the issue sets them', () => {
    expect(queueSettings).toMatchObject({
      email: { priority: 'high', concurrency: 10, attempts: 10, limiter: { max: 100, duration: 1_000 } },
      reports: { priority: 'low', concurrency: 2, attempts: 2 },
      analytics: { priority: 'medium', concurrency: 5, attempts: 3 },
      webhooks: { priority: 'high', concurrency: 20, attempts: 5 },
    });
    expect(keepCompleted).toEqual({ age: 86_400, count: 1_000 });
    expect(keepFailed).toEqual({ age: 7 * 86_400 });
    expect(defaultJobOptions('webhooks')).toEqual({
      attempts: 5,
      backoff: { type: 'exponential', delay: 10_000 },
      priority: priorities.high,
      removeOnComplete: keepCompleted,
      removeOnFail: keepFailed,
    });
    expect(defaultJobOptions('email', 200).backoff).toEqual({ type: 'exponential', delay: 200 });
    expect(priorities.top).toBeLessThan(priorities.high);
    expect(priorities.high).toBeLessThan(priorities.medium);
    expect(priorities.medium).toBeLessThan(priorities.low);
  });

  it('schedules in UTC: daily at 01:00, hourly, monthly on the 1st at 06:00, Sundays at 03:00 with 90 days kept, exports hourly, deleted organizations daily at 04:00', () => {
    expect(Object.fromEntries(schedules.map((s) => [s.id, s.pattern]))).toEqual({
      'daily-aggregation': '0 1 * * *',
      'hourly-summary': '5 * * * *',
      'monthly-billing': '0 6 1 * *',
      'audit-cleanup': '0 3 * * 0',
      'exports-cleanup': '20 * * * *',
      'organization-purge': '0 4 * * *',
    });
    expect(schedules.find((s) => s.id === 'audit-cleanup')?.data).toEqual({ retentionDays: 90 });
  });

  it('validates payloads per job name', () => {
    expect(jobSchemas.email.welcome.safeParse({ to: 'a@example.com', name: 'A', verificationUrl: 'https://app/verify?t=1' }).success).toBe(
      true,
    );
    expect(jobSchemas.email.welcome.safeParse({ to: 'not an email', name: 'A', verificationUrl: 'https://app' }).success).toBe(false);
    expect(
      jobSchemas.email['quota-alert'].safeParse({ organizationId: 'o', month: '2026-13', threshold: 80, tokens: 1, quota: 2, plan: 'FREE' })
        .success,
    ).toBe(false);
    expect(
      jobSchemas.email['quota-alert'].safeParse({ organizationId: 'o', month: '2026-02', threshold: 90, tokens: 1, quota: 2, plan: 'FREE' })
        .success,
    ).toBe(false);
    expect(jobSchemas.reports.export.safeParse({ exportId: 'x' }).success).toBe(false);
    expect(jobSchemas.analytics['monthly-billing'].safeParse({}).success).toBe(true);
  });

  it('keeps BullMQ keys under the deployment prefix, and job ids free of its separator', () => {
    expect(jobsPrefix('mw:')).toBe('mw:bull');
    expect(jobIdOf('quota-alert', 'org', '2026-01', '80')).toBe('quota-alert-org-2026-01-80');
    expect(jobIdOf('a:b', 'c')).not.toContain(':');
  });
});
