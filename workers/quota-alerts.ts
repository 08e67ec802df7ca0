import type { Redis } from 'ioredis';
import type { EventEnvelope } from '@mindweave/events';
import { jobIdOf, type Producers } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Directory } from './directory.ts';

/** Alerts at these shares of the monthly quota, once each per organization and month. */
export const thresholds = [80, 100] as const;

const monthOf = (occurredAt: string) => occurredAt.slice(0, 7);
// Redeliveries come within minutes (a silent consumer's events are reclaimed after 30 s, at most 5
// deliveries): an hour of per-event markers covers them without keeping one key per event for long.
const countedTtlSeconds = 3_600;
const totalsTtlSeconds = 40 * 86_400;

// Counts an event's tokens once: the SET NX on its id makes a redelivered event a no-op. Returns
// the organization's month-to-date total either way, so that a redelivered batch is checked again.
const countOnce = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  local total = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return total
end
return tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')`;

/**
 * Month-to-date tokens per organization, counted from `usage.recorded` events in Redis (a hash per
 * month, HINCRBY per organization, idempotent per event id), and the alerts when a total crosses
 * 80% and 100% of the organization's plan quota.
 */
export function createQuotaAlerts(deps: { redis: Redis; directory: Directory; producers: Producers; quotas: Record<string, number>; log: Logger }) {
  const { redis, producers, log } = deps;
  const smallestQuota = Math.min(...Object.values(deps.quotas));
  // Sent as EVALSHA (ioredis loads the script once per connection).
  redis.defineCommand('mwQuotaCountOnce', { numberOfKeys: 2, lua: countOnce });

  async function count(events: EventEnvelope<'usage.recorded'>[]): Promise<Map<string, { organizationId: string; month: string; tokens: number }>> {
    const pipeline = redis.pipeline() as ReturnType<Redis['pipeline']> & { mwQuotaCountOnce(...args: (string | number)[]): unknown };
    for (const event of events) {
      const month = monthOf(event.data.occurredAt);
      pipeline.mwQuotaCountOnce(`quota:counted:${event.id}`, `quota:tokens:${month}`, event.data.organizationId, event.data.inputTokens + event.data.outputTokens, countedTtlSeconds, totalsTtlSeconds);
    }
    const results = (await pipeline.exec()) ?? [];
    const totals = new Map<string, { organizationId: string; month: string; tokens: number }>();
    events.forEach((event, index) => {
      const [error, total] = results[index] ?? [new Error('no reply')];
      if (error) throw error;
      const month = monthOf(event.data.occurredAt);
      const key = `${event.data.organizationId}|${month}`;
      totals.set(key, { organizationId: event.data.organizationId, month, tokens: Math.max(Number(total), totals.get(key)?.tokens ?? 0) });
    });
    return totals;
  }

  async function alert(organizationId: string, month: string, tokens: number) {
    // Below 80% of the smallest quota no plan can be crossing a threshold: no need to ask accounts.
    if (tokens < smallestQuota * (thresholds[0] / 100)) return;
    const organization = await deps.directory.organization(organizationId);
    if (!organization) return;
    const quota = deps.quotas[organization.plan];
    if (!quota) {
      log.warn({ organizationId, plan: organization.plan }, 'no quota configured for this plan');
      return;
    }
    for (const threshold of thresholds) {
      if (tokens * 100 < quota * threshold) continue;
      const sentKey = `quota:alerted:${organizationId}:${month}:${threshold}`;
      if (await redis.exists(sentKey)) continue;
      // The job id makes a concurrent or repeated add a no-op; the marker keeps it once after the job is gone.
      await producers.add('email', 'quota-alert', { organizationId, month, threshold, tokens, quota, plan: organization.plan }, { jobId: jobIdOf('quota-alert', organizationId, month, String(threshold)) });
      await redis.set(sentKey, String(Date.now()), 'EX', totalsTtlSeconds);
      log.info({ organizationId, month, threshold, tokens, quota }, 'quota threshold crossed');
    }
  }

  return {
    /** Counts the events and sends any alert they call for. Safe to call again with the same events. */
    async record(events: EventEnvelope<'usage.recorded'>[]) {
      if (events.length === 0) return;
      const totals = await count(events);
      for (const { organizationId, month, tokens } of totals.values()) {
        // A failed check (accounts down, say) is not the batch's failure: the organization's next
        // event checks again, since its total stays over the threshold.
        await alert(organizationId, month, tokens).catch((error: unknown) => log.warn({ err: error, organizationId, month }, 'quota alert check failed; the next event retries it'));
      }
    },
    async tokens(organizationId: string, month: string): Promise<number> {
      return Number((await redis.hget(`quota:tokens:${month}`, organizationId)) ?? 0);
    },
  };
}

export type QuotaAlerts = ReturnType<typeof createQuotaAlerts>;
