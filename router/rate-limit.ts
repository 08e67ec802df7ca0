import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
  /** When refused: seconds until enough of the window has slid by. */
  retryAfterSeconds: number;
}

// Sliding-window counter: the previous window's count, weighted by how much of it still overlaps
// the sliding window, plus the current window's count. Two keys per limit, O(1) per request.
const slidingWindowScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local index = math.floor(now / window)
local currentKey = KEYS[1] .. ':' .. index
local current = tonumber(redis.call('GET', currentKey) or '0')
local previous = tonumber(redis.call('GET', KEYS[1] .. ':' .. (index - 1)) or '0')
local elapsed = now - index * window
local used = math.floor(previous * (window - elapsed) / window) + current
if used + amount > limit then
  return {0, used, window - elapsed}
end
redis.call('INCRBY', currentKey, amount)
redis.call('PEXPIRE', currentKey, window * 2)
return {1, used + amount, window - elapsed}
`;

type Windows = Map<string, { index: number; current: number; previous: number }>;

/** The same algorithm in process memory, for when Redis cannot be reached. */
function consumeLocally(windows: Windows, key: string, limit: number, windowMs: number, amount: number, now: number): [number, number, number] {
  const index = Math.floor(now / windowMs);
  let entry = windows.get(key);
  if (!entry || entry.index < index - 1) entry = { index, current: 0, previous: 0 };
  else if (entry.index === index - 1) entry = { index, current: 0, previous: entry.current };
  windows.set(key, entry);
  const elapsed = now - index * windowMs;
  const used = Math.floor((entry.previous * (windowMs - elapsed)) / windowMs) + entry.current;
  if (used + amount > limit) return [0, used, windowMs - elapsed];
  entry.current += amount;
  if (windows.size > 100_000) windows.delete(windows.keys().next().value as string);
  return [1, used + amount, windowMs - elapsed];
}

/**
 * Sliding-window limits in Redis, shared by every router instance. When Redis is unreachable the
 * limits still hold, per instance, in memory: requests are neither refused wholesale nor let
 * through unlimited (README: "Rate limits").
 */
export function createRateLimiter(redis: Redis, log: Logger) {
  redis.defineCommand('mwSlidingWindow', { numberOfKeys: 1, lua: slidingWindowScript });
  const local: Windows = new Map();
  const localBlocks = new Map<string, number>();
  let lastWarning = 0;

  const warn = (error: unknown) => {
    if (Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    log.warn({ err: error }, 'rate limits are held in memory while Redis is unreachable');
  };
  const redisUp = () => redis.status === 'ready';

  async function consume(key: string, limit: number, windowMs: number, amount = 1): Promise<Decision> {
    const now = Date.now();
    let result: [number, number, number];
    if (redisUp()) {
      try {
        result = (await (redis as Redis & { mwSlidingWindow(key: string, ...args: number[]): Promise<[number, number, number]> }).mwSlidingWindow(
          `rl:${key}`,
          now,
          windowMs,
          limit,
          amount,
        )) as [number, number, number];
      } catch (error) {
        warn(error);
        result = consumeLocally(local, key, limit, windowMs, amount, now);
      }
    } else {
      warn(new Error(`redis is ${redis.status}`));
      result = consumeLocally(local, key, limit, windowMs, amount, now);
    }
    const [allowed, used, msToReset] = result;
    return {
      allowed: allowed === 1,
      limit,
      remaining: Math.max(0, limit - used),
      resetSeconds: Math.ceil(msToReset / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil(msToReset / 1000)),
    };
  }

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

  return { consume, blockedFor, block };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
