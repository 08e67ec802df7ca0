import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../events.ts';
import { envelopeField, packedFields, packSize, type Entry, type StreamsReply } from './entries.ts';
import { createFreshDelivery } from './fresh.ts';
import { createReadSize } from './read-size.ts';
import { recordingSettler, silentLog } from './fixtures/fakes.ts';
import { usageEvent } from '../fixtures/usage-event.ts';

const key = 'prefix:events:usage';
const domainOfKey = new Map([[key, 'usage']]);

function setup(handler: (events: EventEnvelope[]) => Promise<void>, batchSize = 100) {
  const recorded = recordingSettler();
  const readSize = createReadSize(batchSize);
  const deliverFresh = createFreshDelivery({
    domainOfKey,
    batchSize,
    handler,
    settler: recorded.settler,
    readSize,
    claimIdleMs: 1_000,
    log: silentLog,
  });
  return { ...recorded, readSize, deliverFresh };
}

const entry = (id: string, events: EventEnvelope[]): Entry => [id, packedFields(events)[0]!];
const reply = (...entries: Entry[]): NonNullable<StreamsReply> => [[key, entries]];

describe('fresh delivery: entries read for the first time', () => {
  it('hands the events to the handler about batchSize at a time and acknowledges each batch once handled', async () => {
    const batches: number[] = [];
    const { deliverFresh, calls } = setup(async (events) => void batches.push(events.length), 100);
    const entries = Array.from({ length: 5 }, (_, i) => entry(`${i}-0`, Array.from({ length: 60 }, usageEvent)));
    await deliverFresh(reply(...entries));
    expect(batches).toEqual([120, 120, 60]);
    // The first settle is that of the poison-only entries (none here).
    expect(calls.map(({ done }) => done.map(({ id }) => id))).toEqual([[], ['0-0', '1-0'], ['2-0', '3-0'], ['4-0']]);
  });

  it('dead-letters and acknowledges entries of poison only before handling, and the poison of mixed entries with their batch', async () => {
    const handled: string[] = [];
    const { deliverFresh, calls } = setup(async (events) => void handled.push(...events.map(({ id }) => id)));
    const good = usageEvent();
    const bad = { ...usageEvent(), type: 'usage.nonsense' };
    await deliverFresh(reply(['1-0', [envelopeField, '{not json']], ['2-0', ['envelopes', JSON.stringify([good, bad])]]));
    expect(handled).toEqual([good.id]);
    expect(calls).toEqual([
      {
        rejected: [{ domain: 'usage', id: '1-0', raw: '{not json', reason: expect.any(String), deliveries: 1 }],
        done: [{ domain: 'usage', id: '1-0' }],
      },
      {
        rejected: [{ domain: 'usage', id: '2-0', raw: JSON.stringify(bad), reason: expect.any(String), deliveries: 1 }],
        done: [{ domain: 'usage', id: '2-0' }],
      },
    ]);
  });

  it('leaves a batch whose handler failed pending (not acknowledged) and goes on with the next', async () => {
    let call = 0;
    const { deliverFresh, acked } = setup(async () => {
      if (call++ === 0) throw new Error('database down');
    }, 1);
    await deliverFresh(reply(entry('1-0', [usageEvent()]), entry('2-0', [usageEvent()])));
    expect(call).toBe(2);
    expect(acked()).toEqual(['usage/2-0']);
  });

  it('skips streams it does not consume and entries deleted since they were delivered', async () => {
    const handled: string[] = [];
    const { deliverFresh, acked } = setup(async (events) => void handled.push(...events.map(({ id }) => id)));
    const event = usageEvent();
    await deliverFresh([
      ['prefix:events:other', [entry('1-0', [usageEvent()])]],
      [key, [['2-0', null], entry('3-0', [event])]],
    ]);
    expect(handled).toEqual([event.id]);
    expect(acked()).toEqual(['usage/3-0']);
  });

  it('sizes the next read by the largest entry of this one', async () => {
    const { deliverFresh, readSize } = setup(async () => undefined, 500);
    await deliverFresh(reply(entry('1-0', [usageEvent()])));
    expect(readSize.entries).toBe(10);
    await deliverFresh(reply(entry('2-0', Array.from({ length: packSize }, usageEvent))));
    expect(readSize.entries).toBe(5);
  });
});
