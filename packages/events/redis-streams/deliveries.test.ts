import { describe, expect, it } from 'vitest';
import { chunksOf, eventsOf, poisonOf, type Delivery } from './deliveries.ts';
import { usageEvent } from '../fixtures/usage-event.ts';

const delivery = (id: string, events: number, poison = 0): Delivery => ({
  domain: 'usage',
  id,
  events: Array.from({ length: events }, usageEvent),
  poison: Array.from({ length: poison }, (_, i) => ({ domain: 'usage', id, raw: `bad ${i}`, reason: 'bad', deliveries: 1 })),
  deliveries: 1,
});

const ids = (chunks: Delivery[][]) => chunks.map((chunk) => chunk.map((entry) => entry.id));

describe('deliveries: entries in hand, grouped for the handler', () => {
  it('closes a chunk as soon as it holds at least `size` events, never splitting an entry', () => {
    const entries = [delivery('a', 60), delivery('b', 60), delivery('c', 100), delivery('d', 1), delivery('e', 1)];
    expect(ids(chunksOf(entries, 100))).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
  });

  it('gives single events in runs of exactly `size`, and nothing for no entries', () => {
    const singles = Array.from({ length: 7 }, (_, i) => delivery(String(i), 1));
    expect(chunksOf(singles, 3).map((chunk) => chunk.length)).toEqual([3, 3, 1]);
    expect(chunksOf([], 3)).toEqual([]);
  });

  it('flattens the events and the poison of entries, in order', () => {
    const entries = [delivery('a', 2, 1), delivery('b', 1, 2)];
    expect(eventsOf(entries)).toEqual([...entries[0]!.events, ...entries[1]!.events]);
    expect(poisonOf(entries).map(({ id, raw }) => `${id}:${raw}`)).toEqual(['a:bad 0', 'b:bad 0', 'b:bad 1']);
  });
});
