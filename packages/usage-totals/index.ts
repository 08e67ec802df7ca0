import type { Redis } from 'ioredis';

// Month-to-date tokens and spend per organization, in Redis. The usage subgraph adds to them once
// per accepted event as it ingests (duplicates never get that far); its policies decide monthly
// budgets against them and the workers' quota alerts read them, so nothing else counts events again.

/** `2026-03`: the UTC month an event occurred in. */
export const monthOf = (at: Date) => `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
const monthKey = (organizationId: string, month: string) => `mtd:${organizationId}:${month}`;
const keptSeconds = 40 * 86_400;

export async function monthToDate(redis: Redis, organizationId: string, month: string): Promise<{ tokens: number; costUsd: number }> {
  const [tokens, microUsd] = await redis.hmget(monthKey(organizationId, month), 'tokens', 'microUsd');
  return { tokens: Number(tokens ?? 0), costUsd: Number(microUsd ?? 0) / 1_000_000 };
}

/** Month-to-date tokens of several (organization, month) pairs, in one round trip. */
export async function tokensToDate(redis: Redis, pairs: { organizationId: string; month: string }[]): Promise<number[]> {
  if (pairs.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { organizationId, month } of pairs) pipeline.hget(monthKey(organizationId, month), 'tokens');
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value]) => {
    if (error) throw error;
    return Number(value ?? 0);
  });
}

/**
 * Adds accepted usage to its months' totals (`sign` -1 takes it back), in one transaction: either
 * every month counts it or none does. Kept 40 days.
 */
export async function addUsage(redis: Redis, organizationId: string, usage: { occurredAt: string; inputTokens: number; outputTokens: number; costUsd: number }[], sign: 1 | -1 = 1) {
  const months = new Map<string, { tokens: number; costUsd: number }>();
  for (const event of usage) {
    const month = monthOf(new Date(event.occurredAt));
    const entry = months.get(month) ?? { tokens: 0, costUsd: 0 };
    entry.tokens += event.inputTokens + event.outputTokens;
    entry.costUsd += event.costUsd;
    months.set(month, entry);
  }
  if (months.size === 0) return;
  const transaction = redis.multi();
  for (const [month, { tokens, costUsd }] of months) {
    const key = monthKey(organizationId, month);
    // Rounded before the sign, so that taking an amount back undoes adding it exactly.
    transaction.hincrby(key, 'tokens', sign * tokens).hincrby(key, 'microUsd', sign * Math.round(costUsd * 1_000_000)).expire(key, keptSeconds);
  }
  const results = await transaction.exec();
  if (!results) throw new Error('Redis discarded the transaction');
  for (const [error] of results) if (error) throw error;
}
