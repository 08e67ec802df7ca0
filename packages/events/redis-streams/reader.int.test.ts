import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topicOf } from '../events.ts';
import type { StreamsReply } from './entries.ts';
import { createReadSize } from './read-size.ts';
import { ensureGroups, startReading } from './reader.ts';
import { silentLog } from './fixtures/fakes.ts';
import { usageEvent } from '../fixtures/usage-event.ts';
import { testRedis, type TestRedis } from './fixtures/redis.ts';

const group = 'reader-test';
let t: TestRedis;
beforeEach(async () => {
  t = await testRedis();
});
afterEach(() => t.cleanup());

const ensure = () => ensureGroups(t.redis, [t.prefix + topicOf('usage')], group);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

function readerOf(options: { reclaim?: (stopping: () => boolean) => Promise<void>; claimEveryMs?: number } = {}) {
  const replies: NonNullable<StreamsReply>[] = [];
  const connection = t.duplicate();
  const reading = startReading({
    connection,
    streams: [topicOf('usage')],
    group,
    consumer: 'c1',
    blockMs: 100,
    claimEveryMs: options.claimEveryMs ?? 60_000,
    readSize: createReadSize(500),
    reclaim: options.reclaim ?? (async () => undefined),
    deliverFresh: async (reply) => void replies.push(reply),
    ensureGroups: ensure,
    log: silentLog,
  });
  const ids = () => replies.flatMap((reply) => reply.flatMap(([, entries]) => entries.map(([id]) => id)));
  return { reading, replies, ids, connection };
}

describe('reader: the consumer’s loop', () => {
  it('ensureGroups makes the stream and a group that starts at its beginning, and takes an existing group as it is', async () => {
    const before = await t.publish('usage', [usageEvent()]);
    await ensure();
    await ensure();
    const { reading, ids } = readerOf();
    await until('the earlier entry is read', () => ids().length === 1);
    await reading.stop();
    expect(ids()).toEqual(before);
  });

  it('hands each new entry once to deliverFresh, with the stream key as Redis names it (prefix included)', async () => {
    await ensure();
    const { reading, replies, ids } = readerOf();
    const published = await t.publish('usage', [usageEvent()], [usageEvent(), usageEvent()]);
    await until('both entries are read', () => ids().length === 2);
    await sleep(250);
    await reading.stop();
    expect(ids()).toEqual(published);
    expect(new Set(replies.flatMap((reply) => reply.map(([key]) => key)))).toEqual(new Set([t.prefix + topicOf('usage')]));
  });

  it('reclaims first and then every claimEveryMs, between reads', async () => {
    await ensure();
    let reclaims = 0;
    const { reading } = readerOf({ reclaim: async () => void reclaims++, claimEveryMs: 150 });
    await until('reclaimed at start', () => reclaims === 1, 1_000);
    await until('reclaimed again', () => reclaims >= 3, 2_000);
    await reading.stop();
  });

  it('makes the group again when it was deleted under the reader, and goes on reading', async () => {
    await ensure();
    const { reading, ids } = readerOf();
    await t.redis.del(topicOf('usage'));
    await sleep(250);
    const [id] = await t.publish('usage', [usageEvent()]);
    await until('the entry published after the group came back is read', () => ids().includes(id!));
    await reading.stop();
  });

  it('goes on after a failure (a reclaim that threw) instead of stopping', async () => {
    await ensure();
    let reclaims = 0;
    const { reading, ids } = readerOf({
      reclaim: async () => {
        if (reclaims++ === 0) throw new Error('Redis hiccup');
      },
      claimEveryMs: 60_000,
    });
    const [id] = await t.publish('usage', [usageEvent()]);
    await until('read after the failed reclaim', () => ids().includes(id!));
    await reading.stop();
    expect(reclaims).toBe(2);
  });

  it('stop() returns within about blockMs and closes the blocking connection', async () => {
    await ensure();
    const { reading, connection } = readerOf();
    await sleep(150);
    const startedAt = Date.now();
    await reading.stop();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    await until('the blocking connection is closed', () => connection.status === 'end', 1_000);
  });
});
