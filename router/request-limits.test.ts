import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import { inMemoryLimiter } from './fixtures/edge-limiter.ts';
import type { Decision } from './rate-limit.ts';
import { countRefused, identityKey, limitRequests, minute, requestLimitsOf, tightest } from './request-limits.ts';

const env = { RATE_LIMIT_PER_MINUTE: 3, API_KEY_RATE_LIMIT_PER_MINUTE: 2, COST_BUDGET_PER_MINUTE: 100 };
const user: Identity = { kind: 'user', userId: 'u1' };
const key: Identity = { kind: 'apiKey', apiKeyId: 'k1', projectId: 'p', organizationId: 'o', scopes: [] };

// Each test starts at the same point of a window, so that none crosses a boundary half-way.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Math.ceil(Date.now() / minute) * minute + 15_000);
});
afterEach(() => void vi.useRealTimers());

const decision = (remaining: number, exceeded = false): Decision => ({
  allowed: !exceeded,
  exceeded,
  limit: 10,
  remaining,
  resetSeconds: 45,
  retryAfterSeconds: 45,
});

describe('which limits a request spends', () => {
  it("keys a user's and a key's own limits, and an anonymous caller's by IP", () => {
    expect([identityKey(user, '1.2.3.4'), identityKey(key, '1.2.3.4'), identityKey({ kind: 'anonymous' }, '1.2.3.4')]).toEqual([
      'user:u1',
      'key:k1',
      'ip:1.2.3.4',
    ]);
  });

  it('spends the IP limit always, and the identity limit (an API key its own) unless anonymous', () => {
    expect(requestLimitsOf(env, { kind: 'anonymous' }, 'ip')).toEqual([{ key: 'ip:ip', limit: 3, amount: 1 }]);
    expect(requestLimitsOf(env, key, 'ip')).toEqual([
      { key: 'ip:ip', limit: 3, amount: 1 },
      { key: 'key:k1', limit: 2, amount: 1 },
    ]);
  });

  it('reports the refusing decision, else the one closest to refusing', () => {
    const refusing = decision(5, true);
    expect(tightest([decision(1), refusing, decision(0)])).toBe(refusing);
    const closest = decision(0);
    expect(tightest([decision(4), closest, decision(2)])).toBe(closest);
  });
});

describe('limitRequests', () => {
  it('admits within the limits, with the headers of the tightest one', async () => {
    const { limiter, close } = inMemoryLimiter();
    const { headers, refusal } = await limitRequests(limiter, env, key, 'ip', 10);
    expect(refusal).toBeUndefined();
    expect(headers).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '45' });
    close();
  });

  it('refuses past a request limit with 429, RATE_LIMITED and Retry-After', async () => {
    const { limiter, close } = inMemoryLimiter();
    await limitRequests(limiter, env, key, 'ip', 0);
    await limitRequests(limiter, env, key, 'ip', 0);
    const { refusal } = await limitRequests(limiter, env, key, 'ip', 0);
    expect(refusal).toMatchObject({ status: 429, reason: 'rate_limit', headers: { 'x-ratelimit-remaining': '0', 'retry-after': '45' } });
    expect(refusal?.error.code).toBe(ErrorCode.RATE_LIMITED);
    expect(refusal?.error.extensions['retryAfter']).toBe(45);
    close();
  });

  it('refuses an operation over what is left of the cost budget, spending nothing of it', async () => {
    const { limiter, close } = inMemoryLimiter();
    expect((await limitRequests(limiter, env, user, 'ip', 60)).refusal).toBeUndefined();
    const { refusal, headers } = await limitRequests(limiter, env, user, 'ip', 50);
    expect(refusal).toMatchObject({ status: 429, reason: 'cost_budget', headers: { 'retry-after': '45' } });
    expect(refusal?.error.message).toBe('Cost budget of 100 a minute spent');
    expect(refusal?.error.extensions['cost']).toBe(50);
    // The refused request spent no request either: still 2 left of 3 after the first.
    expect(headers['x-ratelimit-remaining']).toBe('2');
    expect((await limitRequests(limiter, env, user, 'ip', 40)).refusal).toBeUndefined();
    close();
  });

  it("keeps budgets per identity, an anonymous caller's per IP", async () => {
    const { limiter, close } = inMemoryLimiter();
    await limitRequests(limiter, env, user, 'ip', 100);
    expect((await limitRequests(limiter, env, key, 'ip', 100)).refusal).toBeUndefined();
    const anonymous: Identity = { kind: 'anonymous' };
    expect((await limitRequests(limiter, env, anonymous, 'anonymous', 100)).refusal).toBeUndefined();
    expect((await limitRequests(limiter, env, anonymous, 'anonymous', 1)).refusal?.reason).toBe('cost_budget');
    expect((await limitRequests(limiter, env, anonymous, 'other', 1)).refusal).toBeUndefined();
    close();
  });

  it('counts a request refused for its document against the request limits', async () => {
    const { limiter, close } = inMemoryLimiter();
    expect((await countRefused(limiter, env, user, 'ip'))['x-ratelimit-remaining']).toBe('2');
    await countRefused(limiter, env, user, 'ip');
    await countRefused(limiter, env, user, 'ip');
    expect((await limitRequests(limiter, env, user, 'ip', 0)).refusal?.reason).toBe('rate_limit');
    close();
  });
});
