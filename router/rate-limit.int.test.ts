import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, createRedis } from '@mindweave/service-kit';
import { createRateLimiter, type Limit } from './rate-limit.ts';

// The stack's Redis under a prefix of this file's own, and a client that never connects: the
// limiter then holds its windows in memory, as it does while Redis is unreachable.
const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}rate-limit-test-${randomUUID()}:`;
const redis = createRedis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', prefix);
const unreachable = new Redis({ port: 1, lazyConnect: true });
const log = createLogger({ name: 'rate-limit-test', level: 'silent' });
beforeAll(async () => {
  await redis.ping();
});
afterAll(async () => {
  await redis.quit();
  unreachable.disconnect();
});

const minute = 60_000;
// Windows follow the clock: each test starts at the same point of a window, so that none crosses
// a boundary half-way (only Date is faked; Redis' timers stay real).
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Math.ceil(Date.now() / minute) * minute + 10 * minute + 15_000);
});
afterEach(() => {
  vi.useRealTimers();
});

describe.each([
  ['in Redis', () => redis],
  ['in memory (Redis unreachable)', () => unreachable],
])('sliding-window limits %s', (_, client) => {
  it('allows up to the limit, then refuses with the time to wait', async () => {
    expect(client().status).toBe(client() === redis ? 'ready' : 'wait');
    const limiter = createRateLimiter(client(), log);
    const key = randomUUID();
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.consume(key, 3, minute));
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(decisions[3]).toMatchObject({ exceeded: true, limit: 3, resetSeconds: 45, retryAfterSeconds: 45 });
  });

  it('spends nothing on any limit of a request that one of them refuses', async () => {
    const limiter = createRateLimiter(client(), log);
    const [perKey, budget] = [randomUUID(), randomUUID()];
    const request = (cost: number): Limit[] => [
      { key: perKey, limit: 10, amount: 1 },
      { key: budget, limit: 100, amount: cost },
    ];
    expect((await limiter.consumeAll(request(60), minute)).map((d) => d.allowed)).toEqual([true, true]);
    const refused = await limiter.consumeAll(request(60), minute);
    expect(refused.map((d) => [d.allowed, d.exceeded])).toEqual([
      [false, false],
      [false, true],
    ]);
    // The per-key count did not move: the refused request was not counted.
    expect((await limiter.consumeAll(request(40), minute)).map((d) => d.remaining)).toEqual([8, 0]);
  });

  it('weighs the previous window by how much of it the sliding window still covers', async () => {
    const limiter = createRateLimiter(client(), log);
    const key = randomUUID();
    for (let i = 0; i < 8; i++) await limiter.consume(key, 10, minute);
    // Three quarters into the next window, a quarter of the previous one's 8 still counts.
    vi.setSystemTime(Date.now() + minute + 30_000);
    expect(await limiter.consume(key, 10, minute)).toMatchObject({ allowed: true, remaining: 10 - 2 - 1 });
  });

  it('blocks a key for a while', async () => {
    const limiter = createRateLimiter(client(), log);
    const key = randomUUID();
    expect(await limiter.blockedFor(key)).toBe(0);
    await limiter.block(key, 30);
    expect(await limiter.blockedFor(key)).toBeGreaterThanOrEqual(29);
  });
});

it('shares counts between routers through Redis', async () => {
  const [a, b] = [createRateLimiter(redis, log), createRateLimiter(redis, log)];
  const key = randomUUID();
  await a.consume(key, 2, minute);
  await b.consume(key, 2, minute);
  expect((await a.consume(key, 2, minute)).allowed).toBe(false);
});
