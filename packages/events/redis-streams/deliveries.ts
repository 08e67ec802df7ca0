import type { EventEnvelope } from '../events.ts';

// The entries a consumer has in hand until it acknowledges them, and how they reach the handler.

/** A stream entry of one domain's stream, as XACK needs it. */
export interface EntryRef {
  domain: string;
  id: string;
}

/** A read entry with valid events, in hand until acknowledged. */
export interface Delivery extends EntryRef {
  events: EventEnvelope[];
  /** Its malformed events: dead-lettered in the transaction that acknowledges the entry, so once. */
  poison: Rejected[];
  deliveries: number;
}

/** An event on its way to the dead-letter stream. */
export interface Rejected {
  domain: string;
  /** The stream entry the event came in. */
  id: string;
  raw: string;
  reason: string;
  deliveries: number;
}

/** Consecutive runs of at least `size` events (whole deliveries), the last one possibly smaller. */
export function chunksOf(deliveries: Delivery[], size: number): Delivery[][] {
  const chunks: Delivery[][] = [];
  let chunk: Delivery[] = [];
  let events = 0;
  for (const delivery of deliveries) {
    chunk.push(delivery);
    events += delivery.events.length;
    if (events >= size) {
      chunks.push(chunk);
      chunk = [];
      events = 0;
    }
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

export const eventsOf = (deliveries: Delivery[]) => deliveries.flatMap((delivery) => delivery.events);

export const poisonOf = (deliveries: Delivery[]) => deliveries.flatMap((delivery) => delivery.poison);
