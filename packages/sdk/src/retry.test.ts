import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from './retry.ts';

const options = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('backoffDelay', () => {
  it('doubles its ceiling with each retry, up to maxDelayMs', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, options, () => 0.999_999));
    expect(ceilings).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('jitters over the whole range below the ceiling', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.5)).toBe(200);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2_000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
  });
});
