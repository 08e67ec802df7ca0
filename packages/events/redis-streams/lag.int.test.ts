import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deadLetterOf } from '../events.ts';
import { lagOf } from './lag.ts';
import { usageEvent } from '../fixtures/usage-event.ts';
import { testRedis, type TestRedis } from './fixtures/redis.ts';

let t: TestRedis;
beforeEach(async () => {
  t = await testRedis();
});
afterEach(() => t.cleanup());

describe('lag: how far a group is behind on each stream', () => {
  it('reads the group’s lag and pending entries, and the dead-letter stream’s length, per domain', async () => {
    await Promise.all([t.group('usage', 'g'), t.group('policy', 'g'), t.group('usage', 'other')]);
    await t.publish('usage', [usageEvent(), usageEvent()], [usageEvent()], [usageEvent()]);
    await t.readAs('usage', 'g', 'c1');
    await t.publish('usage', [usageEvent()]);
    await t.redis.xadd(deadLetterOf('usage'), '*', 'envelope', 'x');
    expect(await lagOf(t.redis, 'g', ['usage', 'policy'])).toEqual([
      // Entries, not events: the first entry packs two.
      { domain: 'usage', group: 'g', lag: 1, pending: 3, deadLettered: 1 },
      { domain: 'policy', group: 'g', lag: 0, pending: 0, deadLettered: 0 },
    ]);
    expect(await lagOf(t.redis, 'other', ['usage'])).toEqual([{ domain: 'usage', group: 'other', lag: 4, pending: 0, deadLettered: 1 }]);
  });

  it('answers null lag and pending for a group the stream does not have', async () => {
    await t.group('usage', 'g');
    expect(await lagOf(t.redis, 'missing', ['usage'])).toEqual([
      { domain: 'usage', group: 'missing', lag: null, pending: null, deadLettered: 0 },
    ]);
  });
});
