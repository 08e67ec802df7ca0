import type { Socket } from 'node:net';
import { LRUCache } from 'lru-cache';
import WebSocket from 'ws';
import type { EventEnvelope } from '@mindweave/events';
import type { Identity, Logger } from '@mindweave/service-kit';
import type { Metrics } from './metrics.ts';
import type { PreparedSubscription } from './subscription-document.ts';

/**
 * Unsent bytes a WebSocket connection may hold before its subscribers miss events: about a
 * thousand events for a typical selection. Past it new events are dropped for that connection
 * (and counted); the others are never delayed by it.
 */
const connectionBufferLimit = 1 << 20;
/** Events one group may wait with while its previous ones are resolved; past it the oldest are dropped (and counted). */
export const groupBacklogLimit = 10_000;
/** Events resolved in one operation: a recordUsageBatch's worth. */
export const eventsPerResolution = 1_000;

export type UsageEvent = EventEnvelope<'usage.recorded'>;

export interface Subscriber {
  identity: Identity;
  /** `{"id":"<subscription id>","type":"next","payload":`: the group's payload and `}` follow. */
  messagePrefix: string;
  socket: Pick<WebSocket, 'readyState' | 'bufferedAmount' | 'send'>;
  /** The connection under `socket`, to cork while a burst is written. */
  raw: Pick<Socket, 'cork' | 'uncork'>;
  prepared: PreparedSubscription;
  /** Whether the selection reaches `User`, which keeps the resolution the user's own (audienceOf). */
  reachesUser: boolean;
  /** The group it is in now: a membership change may move it to another. */
  groupKey: string;
}

/** Subscribers that see the same thing: one organization, one selection, one audience (audienceOf). */
interface Group extends PreparedSubscription {
  subscribers: Set<Subscriber>;
  /** Events not yet resolved: the next resolution takes them all (up to eventsPerResolution). */
  backlog: UsageEvent[];
  resolving: boolean;
}

/** What resolving a group's query answered: the `usageEventsFromStream` list and errors. */
export interface Resolution {
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Resolves a group's query for a burst of events as one of its subscribers; undefined when nothing came back to deliver. */
export type ResolveEvents = (query: string, events: UsageEvent[], as: Identity) => Promise<Resolution | undefined>;

export const usagePayload = (event: UsageEvent) => ({ id: event.id, ...event.data });

/**
 * What follows a subscriber's messagePrefix in each event's `next` message (the payload and the
 * message's closing brace), serialized once for every subscriber of the group.
 * An error at usageEventsFromStream.<i>... belongs to event i, at <responseKey>...; any other to
 * every event. Locations point into the router's own query, not the client's: left out.
 */
export function nextMessageBodies(responseKey: string, eventCount: number, { data, errors = [] }: Resolution): string[] {
  const items = (data as { usageEventsFromStream?: unknown[] } | null | undefined)?.usageEventsFromStream ?? [];
  const errorsOf = Array.from({ length: eventCount }, () => [] as unknown[]);
  const everyEvent: unknown[] = [];
  for (const { message, path, extensions } of errors) {
    const [root, index, ...rest] = path ?? [];
    if (root === 'usageEventsFromStream' && typeof index === 'number' && errorsOf[index])
      errorsOf[index].push({ message, path: [responseKey, ...rest], extensions });
    else everyEvent.push({ message, extensions });
  }
  const key = JSON.stringify(responseKey);
  return errorsOf.map((own, i) => {
    const item = items[i] ?? null;
    const eventErrors = [...own, ...everyEvent];
    // usageUpdated is non-null: without its item, the whole data is null, as graphql-js would answer.
    const body = item === null ? '{"data":null' : `{"data":{${key}:${JSON.stringify(item)}}`;
    return `${body}${eventErrors.length ? `,"errors":${JSON.stringify(eventErrors)}` : ''}}}`;
  });
}

/**
 * Subscribers in groups, and the delivery of event bursts to them. Each burst is handed to the
 * groups of its organizations without waiting for them: a group whose selection is slow to resolve
 * (a subgraph hanging) delays only its own subscribers. While a group resolves, new events wait in
 * its backlog and go together in its next resolution, so a slow or busy group resolves fewer,
 * larger bursts.
 */
export function createSubscriptionDelivery(options: {
  resolve: ResolveEvents;
  metrics: Pick<Metrics, 'droppedSubscriptionEvents'>;
  log: Pick<Logger, 'error'>;
}) {
  const { resolve, metrics, log } = options;
  const groups = new Map<string, Group>();

  /** Moves a subscriber to the group of its organization, selection and audience. */
  function join(subscriber: Subscriber, audience: string) {
    const { organizationId, query, responseKey } = subscriber.prepared;
    const key = `${organizationId}\n${audience}\n${responseKey}\n${query}`;
    if (subscriber.groupKey === key && groups.get(key)?.subscribers.has(subscriber)) return;
    leave(subscriber);
    const group = groups.get(key) ?? {
      organizationId,
      query,
      responseKey,
      subscribers: new Set<Subscriber>(),
      backlog: [],
      resolving: false,
    };
    groups.set(key, group);
    group.subscribers.add(subscriber);
    subscriber.groupKey = key;
  }

  function leave(subscriber: Subscriber) {
    const group = groups.get(subscriber.groupKey);
    if (!group?.subscribers.delete(subscriber)) return;
    if (group.subscribers.size === 0) groups.delete(subscriber.groupKey);
  }

  /**
   * Writes each event's `next` message to every subscriber of the group. The payload is
   * serialized once per event, not once per subscriber, and each connection's messages of a burst
   * leave in one write: corked sockets are uncorked once the burst is out.
   */
  async function deliver(group: Group, events: UsageEvent[]) {
    const first = group.subscribers.values().next().value;
    if (!first) return;
    const resolution = await resolve(group.query, events, first.identity);
    if (!resolution) return;
    const bodies = nextMessageBodies(group.responseKey, events.length, resolution);
    let dropped = 0;
    for (const subscriber of group.subscribers) {
      const { socket } = subscriber;
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.bufferedAmount > connectionBufferLimit) {
        dropped += bodies.length;
        continue;
      }
      cork(subscriber);
      for (const body of bodies) socket.send(subscriber.messagePrefix + body);
    }
    if (dropped) metrics.droppedSubscriptionEvents.inc(dropped);
  }

  const corked = new Set<Subscriber['raw']>();
  function cork({ raw }: Subscriber) {
    if (corked.has(raw)) return;
    raw.cork();
    if (corked.size === 0) setImmediate(uncorkAll);
    corked.add(raw);
  }
  function uncorkAll() {
    for (const raw of corked) raw.uncork();
    corked.clear();
  }

  const recentEventIds = new LRUCache<string, true>({ max: 100_000 });
  function onEvents(events: EventEnvelope[]) {
    const watched = new Set([...groups.values()].map((group) => group.organizationId));
    const byOrganization = new Map<string, UsageEvent[]>();
    for (const event of events) {
      if (event.type !== 'usage.recorded') continue;
      const usage = event;
      if (!watched.has(usage.data.organizationId)) continue;
      // An event appended again (the retry of a request whose append was not acknowledged) keeps its id: delivered once.
      if (recentEventIds.has(usage.id)) continue;
      recentEventIds.set(usage.id, true);
      const list = byOrganization.get(usage.data.organizationId);
      if (list) list.push(usage);
      else byOrganization.set(usage.data.organizationId, [usage]);
    }
    for (const group of groups.values()) {
      const burst = byOrganization.get(group.organizationId);
      if (!burst) continue;
      for (const event of burst) group.backlog.push(event);
      const excess = group.backlog.length - groupBacklogLimit;
      if (excess > 0) {
        group.backlog.splice(0, excess);
        metrics.droppedSubscriptionEvents.inc(excess * group.subscribers.size);
      }
      if (!group.resolving) void resolveBacklog(group);
    }
    return Promise.resolve();
  }

  async function resolveBacklog(group: Group) {
    group.resolving = true;
    try {
      while (group.backlog.length && group.subscribers.size) {
        await deliver(group, group.backlog.splice(0, eventsPerResolution)).catch((error: unknown) =>
          log.error({ err: error }, 'subscription delivery failed'),
        );
      }
    } finally {
      group.resolving = false;
    }
  }

  return { join, leave, onEvents, groupCount: () => groups.size };
}

export type SubscriptionDelivery = ReturnType<typeof createSubscriptionDelivery>;
