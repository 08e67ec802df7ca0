import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topicOf } from '../events.ts';
import { eventsOfEntry } from './entries.ts';
import { createReadSize } from './read-size.ts';
import { createReclaimer } from './reclaim.ts';
import type { Reclaimed } from './redeliver.ts';
import { silentLog } from './fixtures/fakes.ts';
import { usageEvent } from '../fixtures/usage-event.ts';
import { testRedis, type TestRedis } from './fixtures/redis.ts';

const group = 'reclaim-test';
const claimIdleMs = 100;
let t: TestRedis;
beforeEach(async () => {
  t = await testRedis();
  await t.group('usage', group);
});
afterEach(() => t.cleanup());

function reclaimerOf(options: { batchSize?: number; redeliver?: (reclaimed: Reclaimed) => Promise<void> } = {}) {
  const reclaimed: Reclaimed[] = [];
  const reclaim = createReclaimer({
    redis: t.redis,
    domains: ['usage'],
    group,
    consumer: 'survivor',
    claimIdleMs,
    readSize: createReadSize(options.batchSize ?? 500),
    redeliver: options.redeliver ?? (async (batch) => void reclaimed.push(batch)),
    log: silentLog,
  });
  return { reclaim, reclaimed };
}

describe('reclaimer: pending entries of dead consumers', () => {
  it('takes over entries idle longer than claimIdleMs and hands them over with their events and delivery counts', async () => {
    const events = [usageEvent(), usageEvent()];
    const ids = await t.publish('usage', events, [usageEvent()]);
    await t.readAs('usage', group, 'crashed');
    await sleep(claimIdleMs + 50);
    const { reclaim, reclaimed } = reclaimerOf();
    await reclaim(() => false);
    expect(reclaimed.map(({ domain, entries }) => ({ domain, ids: entries.map(({ id }) => id) }))).toEqual([{ domain: 'usage', ids }]);
    // Read once by the crashed consumer, once more by this claim.
    expect(reclaimed[0]!.entries.map(({ deliveries }) => deliveries)).toEqual([2, 2]);
    expect(eventsOfEntry(reclaimed[0]!.entries[0]!.fields).map(({ id }) => id)).toEqual(events.map(({ id }) => id));
    expect((await t.pending('usage', group)).map(({ consumer }) => consumer)).toEqual(['survivor', 'survivor']);
  });

  it('leaves entries that were not idle long enough', async () => {
    await t.publish('usage', [usageEvent()]);
    await t.readAs('usage', group, 'alive');
    const { reclaim, reclaimed } = reclaimerOf();
    await reclaim(() => false);
    expect(reclaimed).toEqual([]);
    expect((await t.pending('usage', group)).map(({ consumer }) => consumer)).toEqual(['alive']);
  });

  it('does not hand over entries deleted from the stream while pending, nor keep them pending', async () => {
    const [kept, deleted] = await t.publish('usage', [usageEvent()], [usageEvent()]);
    await t.readAs('usage', group, 'crashed');
    await t.redis.xdel(topicOf('usage'), deleted!);
    await sleep(claimIdleMs + 50);
    const { reclaim, reclaimed } = reclaimerOf();
    await reclaim(() => false);
    expect(reclaimed.flatMap(({ entries }) => entries.map(({ id }) => id))).toEqual([kept]);
    expect((await t.pending('usage', group)).map(({ id }) => id)).toEqual([kept]);
  });

  it('claims readSize entries at a time and stops between them once stopping', async () => {
    await t.publish('usage', [usageEvent()], [usageEvent()], [usageEvent()]);
    await t.readAs('usage', group, 'crashed');
    await sleep(claimIdleMs + 50);
    // batchSize 100: one entry per claim.
    const { reclaim, reclaimed } = reclaimerOf({ batchSize: 100 });
    let stopping = false;
    await reclaim(() => stopping);
    expect(reclaimed.map(({ entries }) => entries.length)).toEqual([1, 1, 1]);
    const again = reclaimerOf({
      batchSize: 100,
      redeliver: async () => {
        stopping = true;
      },
    });
    await sleep(claimIdleMs + 50);
    stopping = false;
    await again.reclaim(() => stopping);
    // Still ours from the first pass and idle again: one claim, then it stopped.
    expect((await t.pending('usage', group)).map(({ deliveries }) => deliveries)).toEqual([3, 2, 2]);
  });

  it('restartDeliveries starts an entry’s delivery count again while it is still ours', async () => {
    await t.publish('usage', [usageEvent()]);
    await t.readAs('usage', group, 'crashed');
    await sleep(claimIdleMs + 50);
    const { reclaim } = reclaimerOf({ redeliver: async ({ entries, restartDeliveries }) => restartDeliveries(entries[0]!.id) });
    await reclaim(() => false);
    expect((await t.pending('usage', group)).map(({ consumer, deliveries }) => ({ consumer, deliveries }))).toEqual([
      { consumer: 'survivor', deliveries: 0 },
    ]);
  });
});
