import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createLogger, createRedis, recordEndedSessions } from '@mindweave/service-kit';
import { createSessionRevocations } from './revocations.ts';

// The stack's Redis, under a prefix of this test's own.
const redis = createRedis(
  process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  `${process.env['REDIS_KEY_PREFIX'] ?? ''}revocations-test-${randomUUID()}:`,
);
const log = createLogger({ name: 'revocations-test', level: 'silent' });
afterAll(() => redis.quit());

it('knows the sessions recorded in Redis before it started, those its events name, and forgets them once their tokens expired', async () => {
  const [before, expired, fromEvent, other] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  await recordEndedSessions(redis, [before], Date.now() + 60_000);
  await recordEndedSessions(redis, [expired], Date.now() - 1);
  const revocations = createSessionRevocations({ redis, log });
  await revocations.loaded;
  expect([before, expired, other].map(revocations.isEnded)).toEqual([true, false, false]);

  revocations.end([fromEvent], Date.now() + 500);
  expect(revocations.isEnded(fromEvent)).toBe(true);
  // Recorded in Redis for routers that start later, too.
  const startedLater = async () => {
    const later = createSessionRevocations({ redis, log });
    await later.loaded;
    later.close();
    return later.isEnded(fromEvent);
  };
  await expect.poll(startedLater, { timeout: 2_000 }).toBe(true);
  await new Promise((r) => setTimeout(r, 550));
  expect(revocations.isEnded(fromEvent)).toBe(false);
  expect(await startedLater()).toBe(false);
  revocations.close();
});
