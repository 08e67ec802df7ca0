export interface RetryOptions {
  /** Tries in all, the first included: 1 never retries. */
  attempts: number;
  /** The first retry waits up to this long; each further one up to twice as long as the one before. */
  baseDelayMs: number;
  /** No wait is longer; a Retry-After asking for more is not waited for (the error is thrown). */
  maxDelayMs: number;
}

export const defaultRetry: RetryOptions = { attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 };

/** Exponential backoff with full jitter: a random wait below min(maxDelayMs, baseDelayMs * 2^(retry-1)). */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** A Retry-After header (delay-seconds or an HTTP-date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
