import { isPassingFailure } from '@mindweave/errors';
import type { Logger } from '@mindweave/service-kit';
import type { BatchHandler } from '../bus.ts';
import { deliveryLimit } from '../failures.ts';
import { decodeEntry, reasonOf } from './entries.ts';
import { eventsOf, poisonOf, type Delivery, type EntryRef, type Rejected } from './deliveries.ts';
import type { createPassingFailures } from './passing-failures.ts';
import type { Settler } from './settle.ts';

/** Entries of one stream that were pending too long and are now ours, still in the stream. */
export interface Reclaimed {
  domain: string;
  /** `deliveries`: how often the group delivered the entry, this time included (XPENDING). */
  entries: { id: string; fields: string[]; deliveries: number }[];
  /** Starts an entry's delivery count again, if it is still ours. */
  restartDeliveries(id: string): Promise<void>;
}

export interface RedeliveryOptions {
  handler: BatchHandler;
  settler: Settler;
  passingFailures: ReturnType<typeof createPassingFailures>;
  /** Failed deliveries of an event before it is dead-lettered (many more for a passing failure: failures.ts). */
  maxDeliveries: number;
  log: Logger;
}

/**
 * What a consumer does with reclaimed entries: those delivered more than maxDeliveries times
 * dead-lettered (their consumers kept dying on them), the rest to the handler together, and after
 * a failure one event at a time, so that a failing event is dead-lettered and the others get through.
 */
export function createRedelivery(options: RedeliveryOptions) {
  const { handler, settler, passingFailures, maxDeliveries, log } = options;

  /** Handles the events of `delivery` one at a time; acknowledges it once each was handled or dead-lettered. */
  async function oneAtATime(delivery: Delivery, restartDeliveries: (id: string) => Promise<void>) {
    const failed: Rejected[] = [];
    const deadLetter = (event: unknown, reason: string) =>
      failed.push({ domain: delivery.domain, id: delivery.id, raw: JSON.stringify(event), reason, deliveries: delivery.deliveries });
    let keepPending = false;
    let passing = false;
    for (const event of delivery.events) {
      try {
        await handler([event]);
      } catch (error) {
        if (isPassingFailure(error)) {
          // A dependency is down: the entry is not to blame. Its other events would wait out the
          // same failure, so they are left for the next try too; one count per delivery.
          const count = passingFailures.count(delivery.id) + 1;
          if (count >= deliveryLimit(error, maxDeliveries)) {
            deadLetter(event, `handler failed ${count} times, each for a passing reason: ${reasonOf(error)}`);
            continue;
          }
          log.warn(
            { err: error, id: delivery.id, event: event.id, failures: count },
            'handler failed for a passing reason (a dependency down?); the entry stays pending',
          );
          passingFailures.remember(delivery.id, count);
          keepPending = passing = true;
          break;
        }
        if (delivery.deliveries >= maxDeliveries) deadLetter(event, `handler failed ${delivery.deliveries} times: ${reasonOf(error)}`);
        else {
          log.warn(
            { err: error, id: delivery.id, event: event.id, deliveries: delivery.deliveries },
            'handler failed on a redelivered event; it stays pending',
          );
          keepPending = true;
        }
      }
    }
    // Its delivery count starts again, so that neither the poison rule nor the dying-consumer rule
    // takes it for the cause once the dependency is back.
    if (passing) await restartDeliveries(delivery.id);
    // Below maxDeliveries nothing was dead-lettered: the entry comes back for the failed ones.
    if (!keepPending) {
      await settler.settle([...delivery.poison, ...failed], [delivery]);
      passingFailures.forget(delivery.id);
    }
  }

  return async function redeliver({ domain, entries, restartDeliveries }: Reclaimed) {
    const accepted: Delivery[] = [];
    const rejected: Rejected[] = [];
    const done: EntryRef[] = [];
    for (const { id, fields, deliveries } of entries) {
      const decoded = decodeEntry(fields);
      const poison = decoded.rejected.map(({ raw, reason }) => ({ domain, id, raw, reason, deliveries }));
      if (deliveries > maxDeliveries) {
        // Its consumers kept dying before they could ack or fail it: it may be what kills them.
        rejected.push(...poison);
        for (const event of decoded.events)
          rejected.push({
            domain,
            id,
            raw: JSON.stringify(event),
            reason: `not acknowledged after ${deliveries - 1} deliveries`,
            deliveries: deliveries - 1,
          });
        done.push({ domain, id });
      } else if (decoded.events.length) accepted.push({ domain, id, events: decoded.events, poison, deliveries });
      else {
        rejected.push(...poison);
        done.push({ domain, id });
      }
    }
    await settler.settle(rejected, done);
    if (accepted.length === 0) return;
    const events = eventsOf(accepted);
    if (events.length > 1) {
      try {
        await handler(events);
        await settler.settle(poisonOf(accepted), accepted);
        return;
      } catch (error) {
        log.warn({ err: error, events: events.length }, 'handler failed on redelivered events; retrying them one at a time');
      }
    }
    for (const delivery of accepted) await oneAtATime(delivery, restartDeliveries);
  };
}
