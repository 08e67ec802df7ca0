import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../events.ts';
import { deliveryLimit } from '../failures.ts';
import { envelopeField, packedFields } from './entries.ts';
import { createPassingFailures } from './passing-failures.ts';
import { createRedelivery, type Reclaimed } from './redeliver.ts';
import { recordingSettler, silentLog } from './fixtures/fakes.ts';
import { usageEvent } from '../fixtures/usage-event.ts';

const maxDeliveries = 3;
const outage = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

function setup(handler: (events: EventEnvelope[]) => Promise<void>) {
  const recorded = recordingSettler();
  const passingFailures = createPassingFailures();
  const restarted: string[] = [];
  const redeliver = createRedelivery({ handler, settler: recorded.settler, passingFailures, maxDeliveries, log: silentLog });
  const reclaimed = (entries: Reclaimed['entries']): Reclaimed => ({
    domain: 'usage',
    entries,
    restartDeliveries: async (id) => void restarted.push(id),
  });
  return { ...recorded, passingFailures, restarted, redeliver, reclaimed };
}

const entry = (id: string, events: EventEnvelope[], deliveries: number) => ({ id, fields: packedFields(events)[0]!, deliveries });

describe('redelivery: entries reclaimed from the pending list', () => {
  it('hands the reclaimed events to the handler together and acknowledges them', async () => {
    const handled: number[] = [];
    const { redeliver, reclaimed, acked, deadLettered } = setup(async (events) => void handled.push(events.length));
    await redeliver(reclaimed([entry('1-0', [usageEvent(), usageEvent()], 2), entry('2-0', [usageEvent()], 2)]));
    expect(handled).toEqual([3]);
    expect(acked()).toEqual(['usage/1-0', 'usage/2-0']);
    expect(deadLettered()).toEqual([]);
  });

  it('dead-letters every event of an entry delivered more than maxDeliveries times, without handling it', async () => {
    const events = [usageEvent(), usageEvent()];
    const handled: string[] = [];
    const { redeliver, reclaimed, acked, deadLettered } = setup(async (batch) => void handled.push(...batch.map(({ id }) => id)));
    await redeliver(reclaimed([entry('1-0', events, maxDeliveries + 1)]));
    expect(handled).toEqual([]);
    expect(deadLettered()).toEqual(
      events.map((event) => ({
        domain: 'usage',
        id: '1-0',
        raw: JSON.stringify(event),
        reason: `not acknowledged after ${maxDeliveries} deliveries`,
        deliveries: maxDeliveries,
      })),
    );
    expect(acked()).toEqual(['usage/1-0']);
  });

  it('dead-letters and acknowledges an entry of poison only', async () => {
    const { redeliver, reclaimed, acked, deadLettered } = setup(async () => undefined);
    await redeliver(reclaimed([{ id: '1-0', fields: [envelopeField, '{not json'], deliveries: 2 }]));
    expect(deadLettered()).toEqual([{ domain: 'usage', id: '1-0', raw: '{not json', reason: expect.any(String), deliveries: 2 }]);
    expect(acked()).toEqual(['usage/1-0']);
  });

  it('after a failed batch, tries each event alone: the failing one stays pending below maxDeliveries, the others get through', async () => {
    const poison = usageEvent();
    const handled: string[] = [];
    const { redeliver, reclaimed, acked, deadLettered } = setup(async (events) => {
      if (events.some(({ id }) => id === poison.id)) throw new TypeError('bad event');
      handled.push(...events.map(({ id }) => id));
    });
    const other = usageEvent();
    await redeliver(reclaimed([entry('1-0', [poison], 2), entry('2-0', [other], 2)]));
    expect(handled).toEqual([other.id]);
    expect(acked()).toEqual(['usage/2-0']);
    expect(deadLettered()).toEqual([]);
  });

  it('dead-letters an event still failing at maxDeliveries and acknowledges its entry with the rest of it handled', async () => {
    const [poison, other] = [usageEvent(), usageEvent()];
    const handled: string[] = [];
    const { redeliver, reclaimed, acked, deadLettered } = setup(async (events) => {
      if (events.some(({ id }) => id === poison.id)) throw new TypeError('bad event');
      handled.push(...events.map(({ id }) => id));
    });
    await redeliver(reclaimed([entry('1-0', [poison, other], maxDeliveries)]));
    expect(handled).toEqual([other.id]);
    expect(deadLettered()).toEqual([
      {
        domain: 'usage',
        id: '1-0',
        raw: JSON.stringify(poison),
        reason: `handler failed ${maxDeliveries} times: bad event`,
        deliveries: 3,
      },
    ]);
    expect(acked()).toEqual(['usage/1-0']);
  });

  it('keeps an entry pending through a passing failure, restarting its delivery count, and dead-letters it past the passing limit', async () => {
    let down = true;
    const handled: string[] = [];
    const { redeliver, reclaimed, acked, deadLettered, passingFailures, restarted } = setup(async (events) => {
      if (down) throw outage();
      handled.push(...events.map(({ id }) => id));
    });
    const events = [usageEvent(), usageEvent()];
    await redeliver(reclaimed([entry('1-0', events, maxDeliveries)]));
    // One count per delivery, not per event: the second event was not tried.
    expect(passingFailures.count('1-0')).toBe(1);
    expect(restarted).toEqual(['1-0']);
    expect(acked()).toEqual([]);

    down = false;
    await redeliver(reclaimed([entry('1-0', events, 1)]));
    expect(handled).toEqual(events.map(({ id }) => id));
    expect(acked()).toEqual(['usage/1-0']);

    down = true;
    const limit = deliveryLimit(outage(), maxDeliveries);
    passingFailures.remember('2-0', limit - 1);
    const stuck = usageEvent();
    await redeliver(reclaimed([entry('2-0', [stuck], 1)]));
    expect(deadLettered()).toEqual([
      {
        domain: 'usage',
        id: '2-0',
        raw: JSON.stringify(stuck),
        reason: expect.stringMatching(new RegExp(`^handler failed ${limit} times, each for a passing reason: connect ECONNREFUSED`)),
        deliveries: 1,
      },
    ]);
    expect(acked()).toEqual(['usage/1-0', 'usage/2-0']);
    expect(passingFailures.count('2-0')).toBe(0);
  });
});
