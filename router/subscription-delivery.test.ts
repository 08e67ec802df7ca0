import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createEvent, type EventEnvelope } from '@mindweave/events';
import type { Identity } from '@mindweave/service-kit';
import { createMetrics } from './metrics.ts';
import {
  createSubscriptionDelivery,
  groupBacklogLimit,
  nextMessageBodies,
  type Resolution,
  type Subscriber,
  type UsageEvent,
} from './subscription-delivery.ts';

const usage = (organizationId: string, id: string) =>
  createEvent(
    'usage.recorded',
    organizationId,
    {
      organizationId,
      projectId: 'p',
      apiKeyId: 'k',
      model: 'm',
      inputTokens: 1,
      outputTokens: 1,
      latencyMs: 1,
      costUsd: 0,
      unpricedModel: false,
      occurredAt: '2026-01-01T00:00:00.000Z',
      metadata: null,
    },
    {},
    id,
  );

describe('nextMessageBodies', () => {
  it("serializes each event's item under the response key", () => {
    const data = { usageEventsFromStream: [{ id: 'e1' }, { id: 'e2' }] };
    expect(nextMessageBodies('live', 2, { data })).toEqual(['{"data":{"live":{"id":"e1"}}}}', '{"data":{"live":{"id":"e2"}}}}']);
  });

  it('answers data null for an event without its item, as graphql-js would for the non-null field', () => {
    expect(nextMessageBodies('usageUpdated', 2, { data: { usageEventsFromStream: [{ id: 'e1' }, null] } })[1]).toBe('{"data":null}}');
    expect(nextMessageBodies('usageUpdated', 1, { data: null })).toEqual(['{"data":null}}']);
  });

  it("gives an error under an event's item to that event, at the client's path, and any other to every event", () => {
    const bodies = nextMessageBodies('live', 2, {
      data: { usageEventsFromStream: [{ id: 'e1', organization: null }, { id: 'e2' }] },
      errors: [
        { message: 'org down', path: ['usageEventsFromStream', 0, 'organization'], extensions: { code: 'X' } },
        { message: 'everyone', extensions: { code: 'Y' } },
      ],
    });
    const payloadOf = (body: string) => (JSON.parse(`{"payload":${body}`) as { payload: unknown }).payload;
    expect(payloadOf(bodies[0]!)).toEqual({
      data: { live: { id: 'e1', organization: null } },
      errors: [
        { message: 'org down', path: ['live', 'organization'], extensions: { code: 'X' } },
        { message: 'everyone', extensions: { code: 'Y' } },
      ],
    });
    expect(payloadOf(bodies[1]!)).toEqual({ data: { live: { id: 'e2' } }, errors: [{ message: 'everyone', extensions: { code: 'Y' } }] });
  });
});

/** A subscriber whose socket records what it is sent, on its own raw connection unless given one. */
function subscriberOf(organizationId: string, id: string, raw = { cork: () => undefined, uncork: () => undefined }) {
  const sent: string[] = [];
  const socket = { readyState: WebSocket.OPEN as number, bufferedAmount: 0, send: (message: string) => void sent.push(message) };
  const subscriber: Subscriber = {
    identity: { kind: 'user', userId: id },
    messagePrefix: `{"id":"${id}","type":"next","payload":`,
    socket: socket as unknown as Subscriber['socket'],
    raw,
    prepared: { organizationId, query: 'query { x }', responseKey: 'usageUpdated' },
    reachesUser: false,
    groupKey: '',
  };
  return { subscriber, socket, sent };
}

/** A delivery whose resolutions answer each event's id, recording who resolved what; `hold` keeps them pending. */
function deliveryOf() {
  const calls: { events: string[]; as: Identity }[] = [];
  const errors: unknown[] = [];
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  let fail = false;
  const metrics = createMetrics();
  const delivery = createSubscriptionDelivery({
    async resolve(_query, events: UsageEvent[], as): Promise<Resolution> {
      calls.push({ events: events.map((e) => e.id), as });
      await gate;
      if (fail) throw new Error('subgraph down');
      return { data: { usageEventsFromStream: events.map((e) => ({ id: e.id })) } };
    },
    metrics,
    log: { error: (details: unknown) => void errors.push(details) },
  });
  return {
    delivery,
    calls,
    errors,
    metrics,
    hold: () => (gate = new Promise((resolve) => (release = resolve))),
    release: () => release(),
    failNext: (value: boolean) => (fail = value),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const dropped = async (metrics: ReturnType<typeof createMetrics>) => (await metrics.droppedSubscriptionEvents.get()).values[0]?.value ?? 0;

describe('the subscription delivery', () => {
  it("resolves a group's burst once and writes the same payload to each subscriber, with their own id", async () => {
    const { delivery, calls } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    const b = subscriberOf('o1', 'b');
    delivery.join(a.subscriber, 'members:o1:ADMIN');
    delivery.join(b.subscriber, 'members:o1:ADMIN');
    await delivery.onEvents([usage('o1', 'e1'), usage('o2', 'e2') as EventEnvelope, usage('o1', 'e3')]);
    await settle();
    expect(calls).toEqual([{ events: ['e1', 'e3'], as: a.subscriber.identity }]);
    expect(a.sent).toEqual([
      '{"id":"a","type":"next","payload":{"data":{"usageUpdated":{"id":"e1"}}}}',
      '{"id":"a","type":"next","payload":{"data":{"usageUpdated":{"id":"e3"}}}}',
    ]);
    expect(b.sent.map((m) => m.replace('"b"', '"a"'))).toEqual(a.sent);
  });

  it('resolves separately for another audience, and forgets a group its last subscriber left', async () => {
    const { delivery, calls } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    const b = subscriberOf('o1', 'b');
    delivery.join(a.subscriber, 'members:o1:ADMIN');
    delivery.join(b.subscriber, 'members:o1:MEMBER');
    expect(delivery.groupCount()).toBe(2);
    await delivery.onEvents([usage('o1', 'e1')]);
    await settle();
    expect(calls.length).toBe(2);
    delivery.join(b.subscriber, 'members:o1:ADMIN');
    expect(delivery.groupCount()).toBe(1);
    delivery.leave(a.subscriber);
    delivery.leave(b.subscriber);
    expect(delivery.groupCount()).toBe(0);
    await delivery.onEvents([usage('o1', 'e2')]);
    await settle();
    expect(calls.length).toBe(2);
  });

  it('delivers an event appended twice once', async () => {
    const { delivery } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    delivery.join(a.subscriber, 'x');
    await delivery.onEvents([usage('o1', 'e1'), usage('o1', 'e1')]);
    await settle();
    await delivery.onEvents([usage('o1', 'e1')]);
    await settle();
    expect(a.sent.length).toBe(1);
  });

  it('skips closed sockets, and drops (and counts) what a socket too far behind would be sent', async () => {
    const { delivery, metrics } = deliveryOf();
    const open = subscriberOf('o1', 'a');
    const closed = subscriberOf('o1', 'b');
    const behind = subscriberOf('o1', 'c');
    closed.socket.readyState = WebSocket.CLOSED;
    behind.socket.bufferedAmount = 2 << 20;
    for (const s of [open, closed, behind]) delivery.join(s.subscriber, 'x');
    await delivery.onEvents([usage('o1', 'e1'), usage('o1', 'e2')]);
    await settle();
    expect([open.sent.length, closed.sent.length, behind.sent.length]).toEqual([2, 0, 0]);
    expect(await dropped(metrics)).toBe(2);
  });

  it('corks each connection once while a burst is written, and uncorks it after', async () => {
    const { delivery } = deliveryOf();
    const log: string[] = [];
    const raw = { cork: () => void log.push('cork'), uncork: () => void log.push('uncork') };
    const a = subscriberOf('o1', 'a', raw);
    const b = subscriberOf('o1', 'b', raw);
    delivery.join(a.subscriber, 'x');
    delivery.join(b.subscriber, 'y');
    await delivery.onEvents([usage('o1', 'e1')]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(log).toEqual(['cork', 'uncork']);
  });

  it('keeps events that arrive while a group resolves for its next resolution, together', async () => {
    const { delivery, calls, hold, release } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    delivery.join(a.subscriber, 'x');
    hold();
    await delivery.onEvents([usage('o1', 'e1')]);
    await delivery.onEvents([usage('o1', 'e2')]);
    await delivery.onEvents([usage('o1', 'e3')]);
    expect(calls.map((c) => c.events)).toEqual([['e1']]);
    release();
    await settle();
    await settle();
    expect(calls.map((c) => c.events)).toEqual([['e1'], ['e2', 'e3']]);
    expect(a.sent.length).toBe(3);
  });

  it("drops (and counts, per subscriber) a waiting group's oldest events past its backlog limit", async () => {
    const { delivery, calls, hold, release, metrics } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    const b = subscriberOf('o1', 'b');
    delivery.join(a.subscriber, 'x');
    delivery.join(b.subscriber, 'x');
    hold();
    await delivery.onEvents([usage('o1', 'first')]);
    await delivery.onEvents(Array.from({ length: groupBacklogLimit + 5 }, (_, i) => usage('o1', `e${i}`)));
    expect(await dropped(metrics)).toBe(10);
    release();
    for (let i = 0; i < 15; i++) await settle();
    expect(calls[1]?.events[0]).toBe('e5');
    expect(calls.slice(1).reduce((n, c) => n + c.events.length, 0)).toBe(groupBacklogLimit);
  });

  it('logs a failed resolution and goes on with the next burst', async () => {
    const { delivery, errors, failNext } = deliveryOf();
    const a = subscriberOf('o1', 'a');
    delivery.join(a.subscriber, 'x');
    failNext(true);
    await delivery.onEvents([usage('o1', 'e1')]);
    await settle();
    expect(errors.length).toBe(1);
    failNext(false);
    await delivery.onEvents([usage('o1', 'e2')]);
    await settle();
    expect(a.sent.length).toBe(1);
  });
});
