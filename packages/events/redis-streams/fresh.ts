import type { Logger } from '@mindweave/service-kit';
import type { BatchHandler } from '../bus.ts';
import { decodeEntry, type StreamsReply } from './entries.ts';
import { chunksOf, eventsOf, poisonOf, type Delivery, type EntryRef, type Rejected } from './deliveries.ts';
import type { createReadSize } from './read-size.ts';
import type { Settler } from './settle.ts';

export interface FreshDeliveryOptions {
  /** Stream keys as replies name them (key prefix included) to their domains; other keys are skipped. */
  domainOfKey: ReadonlyMap<string, string>;
  batchSize: number;
  handler: BatchHandler;
  settler: Settler;
  readSize: ReturnType<typeof createReadSize>;
  /** Only for the log: when a failed batch comes back. */
  claimIdleMs: number;
  log: Logger;
}

/**
 * What a consumer does with entries read for the first time (XREADGROUP `>`): poison dead-lettered,
 * the rest to the handler about batchSize events at a time, each batch acknowledged once handled.
 * A failed batch stays pending: the reclaimer brings it back.
 */
export function createFreshDelivery(options: FreshDeliveryOptions) {
  const { domainOfKey, batchSize, handler, settler, readSize, claimIdleMs, log } = options;
  return async function deliverFresh(reply: NonNullable<StreamsReply>) {
    const accepted: Delivery[] = [];
    const rejected: Rejected[] = [];
    // Entries whose every event was poison: done once their events are dead-lettered.
    const poisonOnly: EntryRef[] = [];
    let largest = 1;
    for (const [key, entries] of reply) {
      const domain = domainOfKey.get(key);
      if (domain === undefined) continue;
      for (const [id, fields] of entries) {
        if (!fields) continue;
        const decoded = decodeEntry(fields);
        largest = Math.max(largest, decoded.events.length + decoded.rejected.length);
        const poison = decoded.rejected.map(({ raw, reason }) => ({ domain, id, raw, reason, deliveries: 1 }));
        if (decoded.events.length) accepted.push({ domain, id, events: decoded.events, poison, deliveries: 1 });
        else {
          rejected.push(...poison);
          poisonOnly.push({ domain, id });
        }
      }
    }
    readSize.observe(largest);
    await settler.settle(rejected, poisonOnly);
    // A read can hold up to COUNT packed entries: the handler gets them about batchSize events at a time.
    for (const chunk of chunksOf(accepted, batchSize)) {
      const events = eventsOf(chunk);
      try {
        await handler(events);
      } catch (error) {
        log.warn(
          { err: error, events: events.length },
          `handler failed; the batch stays pending and is redelivered after ${claimIdleMs} ms`,
        );
        continue;
      }
      await settler.settle(poisonOf(chunk), chunk);
    }
  };
}
