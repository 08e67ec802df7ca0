import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { countInFlight, monthToDate, releaseInFlight, settlePersisted, tokensToDate } from './index.ts';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const keyPrefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}totals-test-${randomBytes(4).toString('hex')}:`;
const redis = new Redis(redisUrl, { keyPrefix });
afterAll(async () => {
  const raw = new Redis(redisUrl);
  const keys = await raw.keys(`${keyPrefix}*`);
  if (keys.length) await raw.del(...keys);
  raw.disconnect();
  redis.disconnect();
});

const march = '2026-03-10T10:00:00.000Z';
const event = (tokens: number, costUsd = 0.5, occurredAt = march) => ({
  id: randomUUID(),
  occurredAt,
  inputTokens: tokens,
  outputTokens: 0,
  costUsd,
});

describe('month-to-date totals', () => {
  it('count an event once however often it is counted in flight (a retry appending it again)', async () => {
    const org = randomUUID();
    const [a, b] = [event(100, 0.25), event(50, 0.125)];
    await countInFlight(redis, org, [a, b]);
    await countInFlight(redis, org, [a, b]);
    await countInFlight(redis, org, [b]);
    expect(await monthToDate(redis, org, '2026-03')).toEqual({ tokens: 150, costUsd: 0.375 });
  });

  it('take back what did not reach the log, once', async () => {
    const org = randomUUID();
    const [kept, failed] = [event(100), event(7)];
    await countInFlight(redis, org, [kept, failed]);
    await releaseInFlight(redis, org, [failed]);
    await releaseInFlight(redis, org, [failed]);
    expect((await monthToDate(redis, org, '2026-03')).tokens).toBe(100);
  });

  it('settle to what PostgreSQL holds: persisted events leave the in-flight part, duplicates included', async () => {
    const org = randomUUID();
    const [a, b, c] = [event(100, 1), event(200, 2), event(300, 3)];
    await countInFlight(redis, org, [a, b, c]);
    // The consumer stored a and b (PostgreSQL's month now 300 tokens), then sees them redelivered.
    const persisted = { organizationId: org, month: '2026-03', tokens: 300, microUsd: 3_000_000, eventIds: [a.id, b.id] };
    await settlePersisted(redis, [persisted]);
    await settlePersisted(redis, [persisted]);
    expect(await monthToDate(redis, org, '2026-03')).toEqual({ tokens: 600, costUsd: 6 });
    // A client re-sends b after its keys were flushed: counted in flight again until the consumer sees it is no new row.
    await countInFlight(redis, org, [b]);
    expect((await monthToDate(redis, org, '2026-03')).tokens).toBe(800);
    await settlePersisted(redis, [{ ...persisted, eventIds: [b.id] }]);
    expect((await monthToDate(redis, org, '2026-03')).tokens).toBe(600);
    // c persisted; an older reading of PostgreSQL arriving late takes nothing back.
    await settlePersisted(redis, [{ ...persisted, tokens: 600, microUsd: 6_000_000, eventIds: [c.id] }]);
    await settlePersisted(redis, [{ ...persisted, eventIds: [] }]);
    expect(await monthToDate(redis, org, '2026-03')).toEqual({ tokens: 600, costUsd: 6 });
  });

  it('keep months apart and read several organizations in one round trip', async () => {
    const [org, other] = [randomUUID(), randomUUID()];
    await countInFlight(redis, org, [event(10), event(5_000, 0, '2026-02-27T10:00:00.000Z')]);
    await countInFlight(redis, other, [event(7)]);
    expect(
      await tokensToDate(redis, [
        { organizationId: org, month: '2026-03' },
        { organizationId: org, month: '2026-02' },
        { organizationId: other, month: '2026-03' },
        { organizationId: randomUUID(), month: '2026-03' },
      ]),
    ).toEqual([10, 5_000, 7, 0]);
  });
});
