import type { Redis } from 'ioredis';

// Month-to-date tokens and spend per organization, in Redis, counted once per event id however
// often an event is appended, retried or redelivered:
// - persisted: what the analytics consumer has stored, copied from PostgreSQL's per-month totals
//   (exact: PostgreSQL inserts each event id once) after every batch it writes;
// - in flight: what the usage subgraph accepted that is not persisted yet, one entry per event id
//   (added before the event reaches the log, so whoever reads the log finds it counted), each
//   removed as the consumer persists its event, or taken back when the append fails.
// Their sum is what policies decide monthly budgets against and what the quota alerts read.

/** `2026-03`: the UTC month an event occurred in. */
export const monthOf = (at: Date) => `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
// One hash tag per organization and month, so that a script's keys share a slot on Redis Cluster.
const totalsKey = (organizationId: string, month: string) => `mtd:{${organizationId}:${month}}`;
const inFlightKey = (organizationId: string, month: string) => `${totalsKey(organizationId, month)}:inflight`;
const keptSeconds = 40 * 86_400;

/** An accepted event's share of its month: what is counted per event id. */
export interface CountedUsage {
  id: string;
  occurredAt: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface MonthTotals {
  tokens: number;
  costUsd: number;
}

const microUsdOf = (costUsd: number) => Math.round(costUsd * 1_000_000);

// KEYS: totals hash, in-flight hash. ARGV: ttl, then (event id, tokens, micro-USD) per event.
// Counts each event id not in flight yet.
const countScript = `
local tokens, micro = 0, 0
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2]) == 1 then
    tokens = tokens + tonumber(ARGV[i + 1])
    micro = micro + tonumber(ARGV[i + 2])
  end
end
redis.call('HINCRBY', KEYS[1], 'inflightTokens', tokens)
redis.call('HINCRBY', KEYS[1], 'inflightMicroUsd', micro)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return tokens`;

// Lua that takes the event ids ARGV[first..] out of what is in flight (KEYS[2]), and their amounts
// out of the in-flight sums (KEYS[1]); an id not in flight changes nothing.
const takeBack = (first: number) => `
local tokens, micro = 0, 0
for i = ${first}, #ARGV do
  local amounts = redis.call('HGET', KEYS[2], ARGV[i])
  if amounts then
    redis.call('HDEL', KEYS[2], ARGV[i])
    local separator = string.find(amounts, ':')
    tokens = tokens + tonumber(string.sub(amounts, 1, separator - 1))
    micro = micro + tonumber(string.sub(amounts, separator + 1))
  end
end
if tokens ~= 0 or micro ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'inflightTokens', -tokens)
  redis.call('HINCRBY', KEYS[1], 'inflightMicroUsd', -micro)
end`;

// KEYS: totals hash, in-flight hash. ARGV: event ids. Events that did not reach the log.
const releaseScript = `${takeBack(1)}
return tokens`;

// KEYS: totals hash, in-flight hash. ARGV: ttl, persisted tokens and micro-USD, then the event ids
// of the batch just persisted. The persisted totals only grow, so a consumer that read PostgreSQL
// earlier than another cannot take back what the other wrote.
const settleScript = `
local tokens = tonumber(redis.call('HGET', KEYS[1], 'persistedTokens') or '-1')
local micro = tonumber(redis.call('HGET', KEYS[1], 'persistedMicroUsd') or '-1')
local newTokens, newMicro = tonumber(ARGV[2]), tonumber(ARGV[3])
if newTokens > tokens or (newTokens == tokens and newMicro > micro) then
  redis.call('HSET', KEYS[1], 'persistedTokens', ARGV[2], 'persistedMicroUsd', ARGV[3])
end
${takeBack(4)}
redis.call('EXPIRE', KEYS[1], ARGV[1])
return tokens`;

type TotalsCommands = {
  countUsageInFlight(totals: string, inFlight: string, ...args: (string | number)[]): Promise<number>;
  releaseUsage(totals: string, inFlight: string, ...eventIds: string[]): Promise<number>;
  settleUsage(totals: string, inFlight: string, ...args: (string | number)[]): Promise<number>;
};

const withScripts = new WeakSet<Redis>();
/** The client with the scripts defined (EVALSHA, loaded on first use). */
function scripted(redis: Redis): Redis & TotalsCommands {
  if (!withScripts.has(redis)) {
    redis.defineCommand('countUsageInFlight', { numberOfKeys: 2, lua: countScript });
    redis.defineCommand('releaseUsage', { numberOfKeys: 2, lua: releaseScript });
    redis.defineCommand('settleUsage', { numberOfKeys: 2, lua: settleScript });
    withScripts.add(redis);
  }
  return redis as Redis & TotalsCommands;
}

function byMonth<T extends { occurredAt: string }>(usage: T[]): Map<string, T[]> {
  const months = new Map<string, T[]>();
  for (const event of usage) {
    const month = monthOf(new Date(event.occurredAt));
    const list = months.get(month);
    if (list) list.push(event);
    else months.set(month, [event]);
  }
  return months;
}

/**
 * Counts accepted events in flight, each event id once (an event appended again after a failed or
 * unanswered attempt is not counted twice). One script per month the events fall in.
 */
export async function countInFlight(redis: Redis, organizationId: string, usage: CountedUsage[]): Promise<void> {
  const client = scripted(redis);
  await Promise.all(
    [...byMonth(usage)].map(([month, events]) =>
      client.countUsageInFlight(
        totalsKey(organizationId, month),
        inFlightKey(organizationId, month),
        keptSeconds,
        ...events.flatMap((e) => [e.id, e.inputTokens + e.outputTokens, microUsdOf(e.costUsd)]),
      ),
    ),
  );
}

/** Takes back events counted in flight that did not reach the log. */
export async function releaseInFlight(redis: Redis, organizationId: string, usage: CountedUsage[]): Promise<void> {
  const client = scripted(redis);
  await Promise.all(
    [...byMonth(usage)].map(([month, events]) =>
      client.releaseUsage(totalsKey(organizationId, month), inFlightKey(organizationId, month), ...events.map((e) => e.id)),
    ),
  );
}

/** One organization's month as PostgreSQL holds it after a batch, and the batch's events of that month. */
export interface PersistedMonth {
  organizationId: string;
  month: string;
  tokens: number;
  microUsd: number;
  eventIds: string[];
}

/**
 * What the analytics consumer calls once a batch is stored: each month's persisted totals become
 * PostgreSQL's, and the batch's events (new or seen before) are no longer in flight. Idempotent, so
 * a redelivered batch settles again to the same totals.
 */
export async function settlePersisted(redis: Redis, months: PersistedMonth[]): Promise<void> {
  const client = scripted(redis);
  await Promise.all(
    months.map(({ organizationId, month, tokens, microUsd, eventIds }) =>
      client.settleUsage(totalsKey(organizationId, month), inFlightKey(organizationId, month), keptSeconds, tokens, microUsd, ...eventIds),
    ),
  );
}

const totalsFields = ['persistedTokens', 'persistedMicroUsd', 'inflightTokens', 'inflightMicroUsd'] as const;
const totalsOf = ([tokens, microUsd, inflightTokens, inflightMicroUsd]: (string | null)[]): MonthTotals => ({
  tokens: Number(tokens ?? 0) + Number(inflightTokens ?? 0),
  costUsd: (Number(microUsd ?? 0) + Number(inflightMicroUsd ?? 0)) / 1_000_000,
});

export async function monthToDate(redis: Redis, organizationId: string, month: string): Promise<MonthTotals> {
  return totalsOf(await redis.hmget(totalsKey(organizationId, month), ...totalsFields));
}

/** Month-to-date tokens of several (organization, month) pairs, in one round trip. */
export async function tokensToDate(redis: Redis, pairs: { organizationId: string; month: string }[]): Promise<number[]> {
  if (pairs.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { organizationId, month } of pairs) pipeline.hmget(totalsKey(organizationId, month), ...totalsFields);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, values]) => {
    if (error) throw error;
    return totalsOf(values as (string | null)[]).tokens;
  });
}
