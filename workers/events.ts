import type { Redis } from 'ioredis';
import type { EventEnvelope } from '@mindweave/events';
import { jobIdOf, type AddOptions, type JobData, type JobName, type Producers } from '@mindweave/jobs';
import type { Webhooks } from '@mindweave/webhooks/processors';
import type { QuotaAlerts } from './quota-alerts.ts';

type EmailJob = { [N in JobName<'email'>]: { name: N; data: JobData<'email', N>; options: AddOptions } }[JobName<'email'>];

/** The email an event calls for, if any; its job id is the event's, so a redelivered event adds none. */
function emailFor(event: EventEnvelope): EmailJob | null {
  const jobId = (kind: string) => jobIdOf(kind, event.id);
  switch (event.type) {
    case 'user.created': {
      const { email, name, verificationUrl } = event.data;
      return { name: 'welcome', data: { to: email, name, verificationUrl }, options: { jobId: jobId('welcome') } };
    }
    case 'user.password_reset': {
      const { email, name, resetUrl } = event.data;
      return { name: 'password-reset', data: { to: email, name, resetUrl }, options: { jobId: jobId('password-reset'), priority: 'top' } };
    }
    case 'user.verification_requested': {
      const { email, name, verificationUrl } = event.data;
      return { name: 'email-verification', data: { to: email, name, verificationUrl }, options: { jobId: jobId('email-verification') } };
    }
    case 'export.completed': {
      const { organizationId, exportId, requestedBy, status } = event.data;
      return { name: 'export-ready', data: { organizationId, exportId, requestedBy, status }, options: { jobId: jobId('export-ready') } };
    }
    case 'organization.member_invited': {
      const { email, organizationId, organizationName, role, invitedBy, token, expiresAt } = event.data;
      return {
        name: 'invitation',
        data: { to: email, organizationId, organizationName, role, invitedBy, token, expiresAt },
        options: { jobId: jobId('invitation') },
      };
    }
    case 'policy.violated': {
      const { organizationId, policyId, policyName, model, reason } = event.data;
      return {
        name: 'policy-violation',
        data: { organizationId, policyId, policyName, ...(model ? { model } : {}), reason },
        options: { jobId: jobId('policy-violation') },
      };
    }
    default:
      return null;
  }
}

const handledTtlSeconds = 7 * 86_400;
/** At most one policy-violation email per organization and policy in this long: a denied client retries a lot. */
const violationAlertEverySeconds = 3_600;

/**
 * The workers' consumer of domain events: emails, quota alerts, webhook fan-out. Idempotent under
 * redelivery: job ids derived from event ids, a marker per event that made an email (kept a week,
 * longer than BullMQ keeps the job), and quota alerts that only read the totals counted at ingestion.
 */
export function createEventHandler(deps: { redis: Redis; producers: Producers; quota: QuotaAlerts; webhooks: Webhooks }) {
  const { redis, producers } = deps;
  return async function handle(events: EventEnvelope[]): Promise<void> {
    const emails = events
      .map((event) => ({ event, job: emailFor(event) }))
      .filter((entry): entry is { event: EventEnvelope; job: EmailJob } => entry.job !== null);
    if (emails.length) {
      const markers = emails.map(({ event }) => `events:handled:${event.id}`);
      const handled = await redis.mget(...markers);
      const unhandled = emails.filter((_, index) => handled[index] === null);
      const fresh: typeof unhandled = [];
      for (const entry of unhandled) {
        if (entry.job.name === 'policy-violation') {
          const { organizationId, policyId } = entry.job.data;
          if (
            !(await redis.set(
              `events:violation-alerted:${organizationId}:${policyId}`,
              entry.event.id,
              'EX',
              violationAlertEverySeconds,
              'NX',
            ))
          )
            continue;
        }
        fresh.push(entry);
      }
      await producers.addBulk(
        'email',
        fresh.map(({ job }) => job),
      );
      if (fresh.length) {
        const pipeline = redis.pipeline();
        for (const { event } of fresh) pipeline.set(`events:handled:${event.id}`, '1', 'EX', handledTtlSeconds);
        await pipeline.exec();
      }
    }
    await deps.quota.record(events.filter((event): event is EventEnvelope<'usage.recorded'> => event.type === 'usage.recorded'));
    // A deleted organization's webhooks stop: its endpoints are disabled (idempotent under redelivery).
    for (const event of events)
      if (event.type === 'organization.deleted') await deps.webhooks.disableOrganization(event.data.organizationId);
    await deps.webhooks.fanOut(events);
  };
}
