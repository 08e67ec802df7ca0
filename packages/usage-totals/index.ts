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

/** Adds (or, with negative amounts, takes back) accepted usage; kept 40 days. */
export async function addToMonth(redis: Redis, organizationId: string, month: string, tokens: number, costUsd: number) {
  const key = monthKey(organizationId, month);
  // Rounded by magnitude, so that taking back an amount undoes adding it exactly.
  const microUsd = Math.sign(costUsd) * Math.round(Math.abs(costUsd) * 1_000_000);
  const results = await redis.multi().hincrby(key, 'tokens', tokens).hincrby(key, 'microUsd', microUsd).expire(key, keptSeconds).exec();
  for (const [error] of results ?? []) if (error) throw error;
}
