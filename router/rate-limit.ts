import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';

export interface Decision {
  /** Every limit of the call allowed the request (nothing was spent otherwise). */
  allowed: boolean;
  /** This limit is one that refused it. */
  exceeded: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
  /** When refused: seconds until enough of the window has slid by. */
  retryAfterSeconds: number;
}

export interface Limit {
  key: string;
  limit: number;
  /** What this request spends: 1 for request counts, the estimated cost for cost budgets. */
  amount: number;
}

// Sliding-window counter: the previous window's count, weighted by how much of it still overlaps
// the sliding window, plus the current window's count; two keys per limit. Every limit of a
// request is checked in one call, and spent only if all of them allow it.
const slidingWindowScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local index = math.floor(now / window)
local elapsed = now - index * window
local used = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + i * 2])
  local amount = tonumber(ARGV[2 + i * 2])
  local current = tonumber(redis.call('GET', key .. ':' .. index) or '0')
  local previous = tonumber(redis.call('GET', key .. ':' .. (index - 1)) or '0')
  used[i] = math.floor(previous * (window - elapsed) / window) + current
  if used[i] + amount > limit then allowed = 0 end
end
if allowed == 1 then
  for i, key in ipairs(KEYS) do
    local amount = tonumber(ARGV[2 + i * 2])
    redis.call('INCRBY', key .. ':' .. index, amount)
    redis.call('PEXPIRE', key .. ':' .. index, window * 2)
    used[i] = used[i] + amount
  end
end
table.insert(used, 1, window - elapsed)
table.insert(used, 1, allowed)
return used
`;

type Windows = Map<string, { index: number; current: number; previous: number }>;

/** The same algorithm in process memory, for when Redis cannot be reached. */
function consumeLocally(windows: Windows, limits: Limit[], windowMs: number, now: number): number[] {
  const index = Math.floor(now / windowMs);
  const elapsed = now - index * windowMs;
  const entries = limits.map(({ key }) => {
    let entry = windows.get(key);
    if (!entry || entry.index < index - 1) entry = { index, current: 0, previous: 0 };
    else if (entry.index === index - 1) entry = { index, current: 0, previous: entry.current };
    windows.set(key, entry);
    return entry;
  });
  const used = entries.map((entry) => Math.floor((entry.previous * (windowMs - elapsed)) / windowMs) + entry.current);
  const allowed = limits.every((limit, i) => used[i]! + limit.amount <= limit.limit);
  if (allowed) {
    limits.forEach((limit, i) => {
      entries[i]!.current += limit.amount;
      used[i]! += limit.amount;
    });
  }
  while (windows.size > 100_000) windows.delete(windows.keys().next().value as string);
  return [allowed ? 1 : 0, windowMs - elapsed, ...used];
}

/**
 * Sliding-window limits in Redis, shared by every router instance. When Redis is unreachable the
 * limits still hold, per instance, in memory: requests are neither refused wholesale nor let
 * through unlimited (README: "Rate limits").
 */
export function createRateLimiter(redis: Redis, log: Logger) {
  // The number of keys varies per call, so it is passed first.
  redis.defineCommand('mwSlidingWindow', { lua: slidingWindowScript });
  const local: Windows = new Map();
  const localBlocks = new Map<string, number>();
  let lastWarning = 0;

  const warn = (error: unknown) => {
    if (Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    log.warn({ err: error }, 'rate limits are held in memory while Redis is unreachable');
  };
  const redisUp = () => redis.status === 'ready';

  /** Checks every limit of a request at once; each decision says whether all of them allowed it. */
  async function consumeAll(limits: Limit[], windowMs: number): Promise<Decision[]> {
    const now = Date.now();
    let result: number[];
    if (redisUp()) {
      try {
        const args = [now, windowMs, ...limits.flatMap((l) => [l.limit, l.amount])];
        result = await (
          redis as Redis & { mwSlidingWindow(count: number, ...args: (string | number)[]): Promise<number[]> }
        ).mwSlidingWindow(limits.length, ...limits.map((l) => `rl:${l.key}`), ...args);
      } catch (error) {
        warn(error);
        result = consumeLocally(local, limits, windowMs, now);
      }
    } else {
      warn(new Error(`redis is ${redis.status}`));
      result = consumeLocally(local, limits, windowMs, now);
    }
    const [allowed, msToReset, ...used] = result;
    const resetSeconds = Math.ceil((msToReset ?? windowMs) / 1000);
    return limits.map((limit, i) => {
      const spent = used[i] ?? 0;
      return {
        allowed: allowed === 1,
        exceeded: allowed !== 1 && spent + limit.amount > limit.limit,
        limit: limit.limit,
        remaining: Math.max(0, limit.limit - spent),
        resetSeconds,
        retryAfterSeconds: Math.max(1, resetSeconds),
      };
    });
  }

  const consume = async (key: string, limit: number, windowMs: number, amount = 1) =>
    (await consumeAll([{ key, limit, amount }], windowMs))[0]!;

  /** Seconds left on a block of `key`, or 0. */
  async function blockedFor(key: string): Promise<number> {
    if (redisUp()) {
      try {
        return Math.max(0, await redis.ttl(`block:${key}`));
      } catch (error) {
        warn(error);
      }
    }
    const until = localBlocks.get(key) ?? 0;
    return Math.max(0, Math.ceil((until - Date.now()) / 1000));
  }

  async function block(key: string, seconds: number) {
    localBlocks.set(key, Date.now() + seconds * 1000);
    if (redisUp()) await redis.set(`block:${key}`, '1', 'EX', seconds).catch(warn);
  }

  return { consume, consumeAll, blockedFor, block };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
