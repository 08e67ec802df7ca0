import type { Redis } from 'ioredis';
import type { EventEnvelope } from '@mindweave/events';
import { jobIdOf, type Producers } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import { monthOf, tokensToDate } from '@mindweave/usage-totals';
import type { Directory } from './directory.ts';

/** Alerts at these shares of the monthly quota, once each per organization and month. */
export const thresholds = [80, 100] as const;

const alertedTtlSeconds = 40 * 86_400;

/**
 * The alerts when an organization's month-to-date tokens cross 80% and 100% of its plan's quota.
 * The totals are those the usage subgraph counts as it ingests (`@mindweave/usage-totals`, updated
 * before the events reach the log); `usage.recorded` events only say whose totals to look at, so a
 * redelivered batch changes nothing and this worker counts nothing itself.
 */
export function createQuotaAlerts(deps: {
  redis: Redis;
  directory: Directory;
  producers: Producers;
  quotas: Record<string, number>;
  log: Logger;
}) {
  const { redis, producers, log } = deps;
  const smallestQuota = Math.min(...Object.values(deps.quotas));

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
      await producers.add(
        'email',
        'quota-alert',
        { organizationId, month, threshold, tokens, quota, plan: organization.plan },
        { jobId: jobIdOf('quota-alert', organizationId, month, String(threshold)) },
      );
      await redis.set(sentKey, String(Date.now()), 'EX', alertedTtlSeconds);
      log.info({ organizationId, month, threshold, tokens, quota }, 'quota threshold crossed');
    }
  }

  return {
    /** Checks the totals of each organization and month the events are about. Safe to call again with the same events. */
    async record(events: EventEnvelope<'usage.recorded'>[]) {
      const pairs = new Map<string, { organizationId: string; month: string }>();
      for (const { data } of events) {
        const month = monthOf(new Date(data.occurredAt));
        pairs.set(`${data.organizationId}|${month}`, { organizationId: data.organizationId, month });
      }
      const list = [...pairs.values()];
      const totals = await tokensToDate(redis, list);
      for (const [i, { organizationId, month }] of list.entries()) {
        // A failed check (accounts down, say) is not the batch's failure: the organization's next
        // event checks again, since its total stays over the threshold.
        await alert(organizationId, month, totals[i] ?? 0).catch((error: unknown) =>
          log.warn({ err: error, organizationId, month }, 'quota alert check failed; the next event retries it'),
        );
      }
    },
  };
}

export type QuotaAlerts = ReturnType<typeof createQuotaAlerts>;
