import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import { topicOf } from '../events.ts';
import type { Entry } from './entries.ts';
import type { createReadSize } from './read-size.ts';
import type { Reclaimed } from './redeliver.ts';
import { execAll } from './settle.ts';

type AutoClaimReply = [cursor: string, entries: Entry[], deletedIds?: string[]];
type PendingReply = [id: string, consumer: string, idleMs: number, deliveries: number][];

export interface ReclaimerOptions {
  redis: Redis;
  domains: string[];
  group: string;
  consumer: string;
  /** A pending entry idle this long is taken over from its (presumably crashed) consumer. */
  claimIdleMs: number;
  readSize: ReturnType<typeof createReadSize>;
  /** Gets the reclaimed entries still in the stream, with their delivery counts. */
  redeliver: (reclaimed: Reclaimed) => Promise<void>;
  log: Logger;
}

/**
 * Takes over the group's entries left pending longer than claimIdleMs (their consumer died, or its
 * handler failed) and hands them to `redeliver`; entries trimmed from the stream meanwhile are
 * acknowledged (deleted ones) or only logged (trimmed before the claim).
 */
export function createReclaimer(options: ReclaimerOptions) {
  const { redis, domains, group, consumer, claimIdleMs, readSize, redeliver, log } = options;

  /** How often each of `entries` (ours now) was delivered: XPENDING over their range. */
  async function deliveryCounts(stream: string, entries: Entry[]) {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (!first || !last) return new Map<string, number>();
    const pending = (await redis.xpending(stream, group, first[0], last[0], entries.length, consumer)) as PendingReply;
    const counts = new Map(pending.map(([id, , , deliveries]) => [id, deliveries]));
    // Pending entries of ours that were not idle enough to claim can crowd claimed ones out of that range.
    for (const [id] of entries) {
      if (counts.has(id)) continue;
      const [row] = (await redis.xpending(stream, group, id, id, 1, consumer)) as PendingReply;
      if (row) counts.set(id, row[3]);
    }
    return counts;
  }

  async function claimed(domain: string, entries: Entry[]) {
    // xautoclaim just made these entries ours and reset their idle time.
    const claimedAt = Date.now();
    const stream = topicOf(domain);
    const counts = await deliveryCounts(stream, entries);
    const present: Reclaimed['entries'] = [];
    const gone: string[] = [];
    for (const [id, fields] of entries) {
      const deliveries = counts.get(id);
      if (deliveries === undefined) continue;
      if (fields) present.push({ id, fields, deliveries });
      else gone.push(id);
    }
    if (gone.length) await execAll(redis.pipeline().xack(stream, group, ...gone));
    await redeliver({
      domain,
      entries: present,
      // Only while the entry is still ours: idle since our claim (another consumer's claim since would have reset that).
      async restartDeliveries(id) {
        const idleSinceClaim = Math.max(0, Date.now() - claimedAt - 10);
        await redis.xclaim(stream, group, consumer, idleSinceClaim, id, 'RETRYCOUNT', 0, 'JUSTID');
      },
    });
  }

  /** One pass over every stream of the consumer, until done or `stopping()`. */
  return async function reclaim(stopping: () => boolean) {
    for (const domain of domains) {
      const stream = topicOf(domain);
      let cursor = '0-0';
      do {
        const [next, entries, deletedIds = []] = (await redis.xautoclaim(
          stream,
          group,
          consumer,
          claimIdleMs,
          cursor,
          'COUNT',
          readSize.entries,
        )) as AutoClaimReply;
        cursor = next;
        if (deletedIds.length)
          log.warn({ domain, ids: deletedIds }, 'pending events were trimmed from the stream (maxLength) before they were processed');
        if (entries.length) await claimed(domain, entries);
      } while (cursor !== '0-0' && !stopping());
    }
  };
}
