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

// Counts a batch's tokens, each event once: the SET NX on its id makes a redelivered event a no-op.
// One call per batch (not per event) keeps Redis and this worker off the ingestion path's CPU.
// KEYS: n event markers, then the month hash of each of m (month, organization) pairs. ARGV: n, m,
// the two TTLs, the m organization ids, then per event its pair (1-based) and its tokens.
// Returns each pair's month-to-date total, so that a redelivered batch is checked again.
const countBatchOnce = `
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = 4 + m
for i = 1, n do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[3]) then
    local p = tonumber(ARGV[base + 2 * i - 1])
    redis.call('HINCRBY', KEYS[n + p], ARGV[4 + p], ARGV[base + 2 * i])
  end
end
local totals = {}
for p = 1, m do
  redis.call('EXPIRE', KEYS[n + p], ARGV[4])
  totals[p] = tonumber(redis.call('HGET', KEYS[n + p], ARGV[4 + p]) or '0')
end
return totals`;

/**
 * Month-to-date tokens per organization, counted from `usage.recorded` events in Redis (a hash per
 * month, HINCRBY per organization, idempotent per event id), and the alerts when a total crosses
 * 80% and 100% of the organization's plan quota.
 */
export function createQuotaAlerts(deps: { redis: Redis; directory: Directory; producers: Producers; quotas: Record<string, number>; log: Logger }) {
  const { redis, producers, log } = deps;
  const smallestQuota = Math.min(...Object.values(deps.quotas));
  // Sent as EVALSHA (ioredis loads the script once per connection); the key count varies per call.
  redis.defineCommand('mwQuotaCountBatch', { lua: countBatchOnce });
  const countBatch = (redis as Redis & { mwQuotaCountBatch(numberOfKeys: number, ...args: (string | number)[]): Promise<number[]> }).mwQuotaCountBatch.bind(redis);

  async function count(events: EventEnvelope<'usage.recorded'>[]): Promise<Map<string, { organizationId: string; month: string; tokens: number }>> {
    const pairs = new Map<string, { organizationId: string; month: string; index: number }>();
    const perEvent: (string | number)[] = [];
    for (const event of events) {
      const { organizationId, occurredAt, inputTokens, outputTokens } = event.data;
      const month = monthOf(occurredAt);
      const key = `${organizationId}|${month}`;
      let pair = pairs.get(key);
      if (!pair) pairs.set(key, (pair = { organizationId, month, index: pairs.size + 1 }));
      perEvent.push(pair.index, inputTokens + outputTokens);
    }
    const list = [...pairs.values()];
    const keys = [...events.map((event) => `quota:counted:${event.id}`), ...list.map(({ month }) => `quota:tokens:${month}`)];
    const results = await countBatch(keys.length, ...keys, events.length, list.length, countedTtlSeconds, totalsTtlSeconds, ...list.map((p) => p.organizationId), ...perEvent);
    const totals = new Map<string, { organizationId: string; month: string; tokens: number }>();
    list.forEach(({ organizationId, month }, i) => totals.set(`${organizationId}|${month}`, { organizationId, month, tokens: Number(results[i] ?? 0) }));
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
