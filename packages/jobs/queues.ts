import { z } from 'zod';

/** BullMQ serves lower numbers first; jobs without a priority (0) before every prioritized one. */
export const priorities = { top: 0, high: 1, medium: 5, low: 10 } as const;
export type Priority = keyof typeof priorities;

export interface QueueSettings {
  /** The default priority of the queue's jobs; one job can be raised to `top`. */
  priority: Exclude<Priority, 'top'>;
  /** Jobs one worker process runs at once. */
  concurrency: number;
  /** Runs of a job before it is failed for good (the first run included). */
  attempts: number;
  /** Exponential backoff: the n-th retry waits backoffMs * 2^(n-1). */
  backoffMs: number;
  /** At most `max` jobs per `duration` ms, across every worker of the queue. */
  limiter?: { max: number; duration: number };
}

/** The queues and how their jobs run: configuration, not code. */
export const queueSettings = {
  // 10 attempts from 5 s, doubling: about 40 minutes in all, so that an SMTP outage delays mail
  // rather than drops it (the events that asked for it are not replayed).
  email: { priority: 'high', concurrency: 10, attempts: 10, backoffMs: 5_000, limiter: { max: 100, duration: 1_000 } },
  reports: { priority: 'low', concurrency: 2, attempts: 2, backoffMs: 30_000 },
  analytics: { priority: 'medium', concurrency: 5, attempts: 3, backoffMs: 60_000 },
  webhooks: { priority: 'high', concurrency: 20, attempts: 5, backoffMs: 10_000 },
} as const satisfies Record<string, QueueSettings>;

export type QueueName = keyof typeof queueSettings;
export const queueNames = Object.keys(queueSettings) as QueueName[];

/** Completed jobs are kept a day (at most 1,000), failed ones a week, for operators to look at. */
export const keepCompleted = { age: 24 * 3_600, count: 1_000 };
export const keepFailed = { age: 7 * 24 * 3_600 };

const id = z.string().min(1).max(200);
const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM');
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');
const recipient = z.email().max(254);

/** Every job's payload, per queue and job name; producers and workers both validate with these. */
export const jobSchemas = {
  email: {
    welcome: z.object({ to: recipient, name: z.string(), verificationUrl: z.url() }),
    'password-reset': z.object({ to: recipient, name: z.string(), resetUrl: z.url() }),
    'email-verification': z.object({ to: recipient, name: z.string(), verificationUrl: z.url() }),
    /** To the organization's owners and admins, once per threshold and month. */
    'quota-alert': z.object({
      organizationId: id,
      month,
      threshold: z.union([z.literal(80), z.literal(100)]),
      tokens: z.number().int().min(0),
      quota: z.number().int().min(1),
      plan: z.string(),
    }),
    /** To whoever requested the export. */
    'export-ready': z.object({ organizationId: id, exportId: id, requestedBy: id, status: z.string() }),
    'policy-violation': z.object({
      organizationId: id,
      policyId: id,
      policyName: z.string(),
      model: z.string().optional(),
      reason: z.string(),
    }),
    /** To the organization's owners. */
    'webhook-disabled': z.object({ organizationId: id, endpointId: id, url: z.string(), failures: z.number().int().min(1) }),
    /** To the invited address: a link with the invitation's single-use token. */
    invitation: z.object({
      to: recipient,
      organizationId: id,
      organizationName: z.string(),
      role: z.string(),
      invitedBy: id,
      token: z.string().min(1).max(200),
      expiresAt: z.iso.datetime(),
    }),
  },
  reports: {
    export: z.object({ exportId: z.uuid() }),
  },
  analytics: {
    /** The previous UTC day unless `day` is given. */
    'daily-aggregation': z.object({ day: day.optional() }),
    /** The previous UTC hour unless `hour` (an ISO date-time) is given. */
    'hourly-summary': z.object({ hour: z.iso.datetime().optional() }),
    /** The previous UTC month unless `month` is given. */
    'monthly-billing': z.object({ month: month.optional() }),
    'audit-cleanup': z.object({ retentionDays: z.number().int().min(1) }),
    /** EXPORTS_RETENTION_DAYS unless `retentionDays` is given. */
    'exports-cleanup': z.object({ retentionDays: z.number().int().min(1).optional() }),
    /** The usage data of organizations deleted more than DELETED_ORGANIZATION_RETENTION_DAYS ago (or `retentionDays`). */
    'organization-purge': z.object({ retentionDays: z.number().int().min(0).optional() }),
  },
  webhooks: {
    /** One event to one endpoint; `body` is sent as is, so that every attempt carries the same bytes. */
    deliver: z.object({ endpointId: z.uuid(), eventId: id, eventType: z.string(), body: z.string() }),
  },
} as const satisfies Record<QueueName, Record<string, z.ZodType>>;

export type JobName<Q extends QueueName> = keyof (typeof jobSchemas)[Q] & string;
export type JobData<Q extends QueueName, N extends JobName<Q>> = z.infer<(typeof jobSchemas)[Q][N] & z.ZodType>;

export function schemaOf<Q extends QueueName>(queue: Q, name: string): z.ZodType | undefined {
  return (jobSchemas[queue] as Record<string, z.ZodType>)[name];
}

/** The options every job of `queue` gets unless the producer says otherwise. */
export function defaultJobOptions(queue: QueueName, backoffMs?: number) {
  const settings: QueueSettings = queueSettings[queue];
  return {
    attempts: settings.attempts,
    backoff: { type: 'exponential' as const, delay: backoffMs ?? settings.backoffMs },
    priority: priorities[settings.priority],
    removeOnComplete: keepCompleted,
    removeOnFail: keepFailed,
  };
}

/** BullMQ's keys live under `<REDIS_KEY_PREFIX>bull`, so that deployments and test runs sharing a Redis stay apart. */
export const jobsPrefix = (redisKeyPrefix: string) => `${redisKeyPrefix}bull`;

/** BullMQ job ids may not contain ':' (its own key separator). */
export const jobIdOf = (...parts: string[]) => parts.join('-').replaceAll(':', '_');
