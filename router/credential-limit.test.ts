import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { emailOf, limitCredentials, takesCredentials } from './credential-limit.ts';
import { inMemoryLimiter } from './fixtures/edge-limiter.ts';
import { minute } from './request-limits.ts';

const env = { AUTH_RATE_LIMIT_PER_MINUTE: 2, AUTH_BLOCK_SECONDS: 900 };
const headers = { 'x-ratelimit-limit': '10' };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Math.ceil(Date.now() / minute) * minute + 15_000);
});
afterEach(() => void vi.useRealTimers());

describe('credential mutations', () => {
  it('are the ones that take credentials', () => {
    expect(takesCredentials(['login'])).toBe(true);
    expect(takesCredentials(['renameProject', 'resetPassword'])).toBe(true);
    expect(takesCredentials(['renameProject'])).toBe(false);
  });

  it('are about input.email, else email, trimmed and lower-cased', () => {
    expect(emailOf({ input: { email: ' Ada@Example.com ' } })).toBe('ada@example.com');
    expect(emailOf({ email: 'B@x.io' })).toBe('b@x.io');
    expect(emailOf({ input: { token: 't' }, email: 'c@x.io' })).toBe('c@x.io');
    expect(emailOf({ email: 7 })).toBeUndefined();
    expect(emailOf(undefined)).toBeUndefined();
  });
});

describe('limitCredentials', () => {
  it('lets attempts through up to the limit, then blocks the IP for AUTH_BLOCK_SECONDS', async () => {
    const { limiter, close } = inMemoryLimiter();
    expect(await limitCredentials(limiter, env, 'ip', undefined, headers)).toBeNull();
    expect(await limitCredentials(limiter, env, 'ip', undefined, headers)).toBeNull();
    const limited = await limitCredentials(limiter, env, 'ip', undefined, headers);
    expect(limited).toMatchObject({ status: 429, reason: 'auth_limit', headers: { ...headers, 'retry-after': '900' } });
    expect(limited?.error.message).toBe('Too many attempts; try again later');
    const blocked = await limitCredentials(limiter, env, 'ip', undefined, headers);
    expect(blocked).toMatchObject({ reason: 'auth_blocked', headers: { 'retry-after': '900' } });
    expect(blocked?.error.extensions['retryAfter']).toBe(900);
    close();
  });

  it('limits an email across IPs, and a blocked email from any IP', async () => {
    const { limiter, close } = inMemoryLimiter();
    await limitCredentials(limiter, env, 'ip1', 'ada@x.io', headers);
    await limitCredentials(limiter, env, 'ip2', 'ada@x.io', headers);
    expect((await limitCredentials(limiter, env, 'ip3', 'ada@x.io', headers))?.reason).toBe('auth_limit');
    expect((await limitCredentials(limiter, env, 'ip4', 'ada@x.io', headers))?.reason).toBe('auth_blocked');
    expect(await limitCredentials(limiter, env, 'ip4', 'bob@x.io', headers)).toBeNull();
    close();
  });
});
