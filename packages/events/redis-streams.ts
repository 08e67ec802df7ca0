import { setTimeout as sleep } from 'node:timers/promises';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import type { ConsumeOptions, ConsumerLag, ConsumerSubscription, EventBus, Subscription, TailOptions } from './bus.ts';
import { checkEnvelope, deadLetterOf, domainOf, parseEnvelope, topicOf, type EventEnvelope } from './events.ts';
import { isPassingFailure } from '@mindweave/errors';
import { deliveryLimit } from './failures.ts';

export interface RedisStreamsBusOptions {
  /** Already key-prefixed; blocking reads run on duplicates of it. */
  redis: Redis;
  clientId: string;
  log: Logger;
  /**
   * Approximate cap on each stream's entries (`XADD MAXLEN ~`): it keeps at least this many events,
   * up to packSize times as many when entries are packed. One cap for every entry, whatever it holds,
   * so that a packed publish never trims what single publishes left for a lagging consumer.
   */
  maxLength?: number;
  /** A pending message idle this long is taken over from its (presumably crashed) consumer. */
  claimIdleMs?: number;
  /** How long one blocking read waits; stop() returns within about this long. */
  blockMs?: number;
}

/** The field of a stream entry holding one JSON envelope. */
export const envelopeField = 'envelope';
/** The field of a stream entry holding a JSON array of envelopes (a packed entry). */
export const envelopesField = 'envelopes';
/**
 * Events published together share a stream entry, up to this many: one XADD, one id to read, ack
 * and reclaim per 100 events instead of per event (a 1,000-event usage batch was 1,000 XADDs, and
 * Redis and every consumer paid per entry). An entry is the unit of delivery; each of its events
 * is still validated, handled and dead-lettered on its own.
 */
export const packSize = 100;

type Entry = [id: string, fields: string[] | null];
type StreamsReply = [key: string, entries: Entry[]][] | null;
type AutoClaimReply = [cursor: string, entries: Entry[], deletedIds?: string[]];
type PendingReply = [id: string, consumer: string, idleMs: number, deliveries: number][];

/** One stream entry as read: its valid events, and those that are not (poison). */
interface DecodedEntry {
  events: EventEnvelope[];
  rejected: { raw: string; reason: string }[];
}

/** A read entry with valid events, in hand until acknowledged. */
interface Delivery {
  domain: string;
  id: string;
  events: EventEnvelope[];
  /** Its malformed events: dead-lettered in the transaction that acknowledges the entry, so once. */
  poison: Rejected[];
  deliveries: number;
}

interface Rejected {
  domain: string;
  /** The stream entry the event came in. */
  id: string;
  raw: string;
  reason: string;
  deliveries: number;
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1_000);

function decodeOne(value: unknown, raw: () => string, into: DecodedEntry) {
  try {
    into.events.push(parseEnvelope(value));
  } catch (error) {
    into.rejected.push({ raw: raw(), reason: reasonOf(error) });
  }
}

function decodeEntry(fields: string[]): DecodedEntry {
  const decoded: DecodedEntry = { events: [], rejected: [] };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const raw = fields[i + 1]!;
    if (fields[i] !== envelopeField && fields[i] !== envelopesField) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      decoded.rejected.push({ raw, reason: reasonOf(error) });
      return decoded;
    }
    if (fields[i] === envelopeField) decodeOne(value, () => raw, decoded);
    else if (!Array.isArray(value)) decoded.rejected.push({ raw, reason: `${envelopesField} is not an array` });
    else for (const element of value) decodeOne(element, () => JSON.stringify(element), decoded);
    return decoded;
  }
  decoded.rejected.push({ raw: JSON.stringify(fields), reason: `no ${envelopeField} field` });
  return decoded;
}

/** The envelopes of a stream entry as XRANGE returns its fields; throws on a malformed one. */
export function eventsOfEntry(fields: string[]): EventEnvelope[] {
  const { events, rejected } = decodeEntry(fields);
  if (rejected[0]) throw new Error(rejected[0].reason);
  return events;
}

async function execAll(chain: ChainableCommander): Promise<unknown[]> {
  const results = await chain.exec();
  if (!results) throw new Error('Redis discarded the transaction');
  for (const [error] of results) if (error) throw error;
  return results.map(([, result]) => result);
}

const unique = (domains: string[]) => [...new Set(domains)];

/** Consecutive runs of at least `size` events (whole deliveries), the last one possibly smaller. */
function chunksOf(deliveries: Delivery[], size: number): Delivery[][] {
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

const eventsOf = (deliveries: Delivery[]) => deliveries.flatMap((delivery) => delivery.events);

export function createRedisStreamsBus(options: RedisStreamsBusOptions): EventBus {
  const { redis } = options;
  const log = options.log.child({ component: 'event-bus', transport: 'redis-streams' });
  const maxLength = options.maxLength ?? 100_000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const claimEveryMs = Math.min(claimIdleMs, 5_000);
  // Reclaiming runs between blocking reads, so a read must not outlast the reclaim period.
  const blockMs = Math.min(options.blockMs ?? 1_000, claimEveryMs);
  // ioredis' command table gives XGROUP no key position, so its keyPrefix is not applied there,
  // and stream names in XREAD replies come back with the prefix.
  const keyPrefix = redis.options.keyPrefix ?? '';
  const subscriptions = new Set<Subscription>();

  // The shared client's commandTimeout would cut every blocking read short; keep a looser one so
  // that a read on a silently dead connection still fails eventually.
  const blockingConnection = (role: string) => {
    const connection = redis.duplicate({
      commandTimeout: blockMs + 10_000,
      connectionName: `${options.clientId}:${role}`.replace(/\s/g, '_'),
    });
    // The failing commands are logged by their loops; this only keeps ioredis from printing each reconnect error.
    connection.on('error', (error: Error) => log.debug({ err: error, role }, 'event bus connection error'));
    return connection;
  };

  const domainByKey = (domains: string[]) => new Map(domains.map((domain) => [keyPrefix + topicOf(domain), domain]));

  async function publish(events: EventEnvelope[]) {
    if (events.length === 0) return;
    // Validate the whole batch before writing any of it.
    const byStream = new Map<string, EventEnvelope[]>();
    for (const event of events) {
      checkEnvelope(event);
      const stream = topicOf(domainOf(event.type));
      const list = byStream.get(stream);
      if (list) list.push(event);
      else byStream.set(stream, [event]);
    }
    const transaction = redis.multi();
    for (const [stream, list] of byStream) {
      for (let i = 0; i < list.length; i += packSize) {
        const pack = list.slice(i, i + packSize);
        if (pack.length === 1) transaction.xadd(stream, 'MAXLEN', '~', maxLength, '*', envelopeField, JSON.stringify(pack[0]));
        else transaction.xadd(stream, 'MAXLEN', '~', maxLength, '*', envelopesField, JSON.stringify(pack));
      }
    }
    await execAll(transaction);
  }

  /** XINFO GROUPS' entry for `group` on each stream: its lag (Redis 7) and pending count. */
  async function lagOf(group: string, domains: string[]): Promise<ConsumerLag[]> {
    return Promise.all(
      domains.map(async (domain) => {
        const [groups, deadLettered] = await Promise.all([
          redis.xinfo('GROUPS', keyPrefix + topicOf(domain)) as Promise<unknown[][]>,
          redis.xlen(deadLetterOf(domain)),
        ]);
        const fields = groups
          .map((entry) => new Map(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])))
          .find((entry) => entry.get('name') === group);
        const number = (value: unknown) => (typeof value === 'number' ? value : null);
        return { domain, group, lag: number(fields?.get('lag')), pending: number(fields?.get('pending')), deadLettered };
      }),
    );
  }

  async function consume(consumeOptions: ConsumeOptions): Promise<ConsumerSubscription> {
    const { group, consumer, handler } = consumeOptions;
    const batchSize = consumeOptions.batchSize ?? 500;
    const maxDeliveries = consumeOptions.maxDeliveries ?? 5;
    const domains = unique(consumeOptions.domains);
    const streams = domains.map(topicOf);
    const domainOfKey = domainByKey(domains);
    const consumerLog = log.child({ group, consumer });
    // COUNT of a read is in entries: about batchSize events, going by the largest entry last read
    // (packed entries hold up to packSize events, single publishes one).
    let entriesPerRead = Math.max(1, Math.ceil(batchSize / packSize));
    /** Entries whose handler failed for passing reasons, and how often (isPassingFailure); the oldest forgotten past 10,000. */
    const passingFailures = new Map<string, number>();
    const rememberPassing = (id: string, count: number) => {
      passingFailures.delete(id);
      passingFailures.set(id, count);
      if (passingFailures.size > 10_000) passingFailures.delete(passingFailures.keys().next().value as string);
    };

    // A new group starts at the beginning of the retained stream, so events published before
    // the consumer first came up are not skipped.
    const createGroups = () =>
      Promise.all(
        streams.map(async (stream) => {
          try {
            await redis.xgroup('CREATE', keyPrefix + stream, group, '0', 'MKSTREAM');
          } catch (error) {
            if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
          }
        }),
      );
    await createGroups();

    const ack = async (deliveries: { domain: string; id: string }[]) => {
      if (deliveries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const domain of domains) {
        const ids = deliveries.filter((delivery) => delivery.domain === domain).map((delivery) => delivery.id);
        if (ids.length) pipeline.xack(topicOf(domain), group, ...ids);
      }
      await execAll(pipeline);
    };

    /** Writes `rejected` to the dead-letter streams and acknowledges `done` entries, in one transaction. */
    const deadLetter = async (rejected: Rejected[], done: { domain: string; id: string }[] = []) => {
      if (rejected.length === 0) return ack(done);
      const transaction = redis.multi();
      for (const { domain, id, raw, reason, deliveries } of rejected) {
        transaction.xadd(
          deadLetterOf(domain),
          'MAXLEN',
          '~',
          maxLength,
          '*',
          envelopeField,
          raw,
          'reason',
          reason,
          'stream',
          topicOf(domain),
          'entryId',
          id,
          'group',
          group,
          'consumer',
          consumer,
          'deliveries',
          String(deliveries),
          'deadLetteredAt',
          new Date().toISOString(),
        );
      }
      for (const { domain, id } of done) transaction.xack(topicOf(domain), group, id);
      await execAll(transaction);
      consumerLog.warn(
        { events: rejected.map(({ domain, id, reason, deliveries }) => ({ domain, id, reason, deliveries })) },
        'events moved to the dead-letter stream',
      );
    };

    async function handleFresh(reply: NonNullable<StreamsReply>) {
      const accepted: Delivery[] = [];
      const rejected: Rejected[] = [];
      // Entries whose every event was poison: done once their events are dead-lettered.
      const poisonOnly: { domain: string; id: string }[] = [];
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
      // Shrinks at once, grows by doubling: a read after single events must not bring batchSize packed entries.
      const target = Math.max(1, Math.ceil(batchSize / largest));
      entriesPerRead = target < entriesPerRead ? target : Math.min(target, entriesPerRead * 2);
      await deadLetter(rejected, poisonOnly);
      // A read can hold up to COUNT packed entries: the handler gets them about batchSize events at a time.
      for (const chunk of chunksOf(accepted, batchSize)) {
        try {
          await handler(eventsOf(chunk));
        } catch (error) {
          consumerLog.warn(
            { err: error, events: eventsOf(chunk).length },
            `handler failed; the batch stays pending and is redelivered after ${claimIdleMs} ms`,
          );
          continue;
        }
        await deadLetter(
          chunk.flatMap((delivery) => delivery.poison),
          chunk,
        );
      }
    }

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

    async function handleReclaimed(domain: string, entries: Entry[]) {
      // xautoclaim just made these entries ours and reset their idle time.
      const claimedAt = Date.now();
      const stream = topicOf(domain);
      const counts = await deliveryCounts(stream, entries);
      const accepted: Delivery[] = [];
      const rejected: Rejected[] = [];
      const done: { domain: string; id: string }[] = [];
      const gone: string[] = [];
      for (const [id, fields] of entries) {
        const deliveries = counts.get(id);
        if (deliveries === undefined) continue;
        if (!fields) {
          gone.push(id);
          continue;
        }
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
      if (gone.length) await execAll(redis.pipeline().xack(stream, group, ...gone));
      await deadLetter(rejected, done);
      if (accepted.length === 0) return;
      if (eventsOf(accepted).length > 1) {
        try {
          await handler(eventsOf(accepted));
          await deadLetter(
            accepted.flatMap((delivery) => delivery.poison),
            accepted,
          );
          return;
        } catch (error) {
          consumerLog.warn(
            { err: error, events: eventsOf(accepted).length },
            'handler failed on redelivered events; retrying them one at a time',
          );
        }
      }
      // One at a time, so that a single failing event is dead-lettered and the others get through.
      // An entry is acknowledged once each of its events was handled or dead-lettered.
      for (const delivery of accepted) {
        const failed: Rejected[] = [];
        let keepPending = false;
        let passing = false;
        for (const event of delivery.events) {
          try {
            await handler([event]);
          } catch (error) {
            if (isPassingFailure(error)) {
              // A dependency is down: the entry is not to blame. Its other events would wait out the
              // same failure, so they are left for the next try too; one count per delivery.
              const count = (passingFailures.get(delivery.id) ?? 0) + 1;
              if (count >= deliveryLimit(error, maxDeliveries)) {
                failed.push({
                  domain,
                  id: delivery.id,
                  raw: JSON.stringify(event),
                  reason: `handler failed ${count} times, each for a passing reason: ${reasonOf(error)}`,
                  deliveries: delivery.deliveries,
                });
                continue;
              }
              consumerLog.warn(
                { err: error, id: delivery.id, event: event.id, failures: count },
                'handler failed for a passing reason (a dependency down?); the entry stays pending',
              );
              rememberPassing(delivery.id, count);
              keepPending = passing = true;
              break;
            }
            if (delivery.deliveries >= maxDeliveries) {
              failed.push({
                domain,
                id: delivery.id,
                raw: JSON.stringify(event),
                reason: `handler failed ${delivery.deliveries} times: ${reasonOf(error)}`,
                deliveries: delivery.deliveries,
              });
            } else {
              consumerLog.warn(
                { err: error, id: delivery.id, event: event.id, deliveries: delivery.deliveries },
                'handler failed on a redelivered event; it stays pending',
              );
              keepPending = true;
            }
          }
        }
        if (passing) {
          // Its delivery count starts again, so that neither the poison rule nor the dying-consumer
          // rule above takes it for the cause once the dependency is back. Only while it is still
          // ours: idle since our claim (another consumer's claim since would have reset that).
          const idleSinceClaim = Math.max(0, Date.now() - claimedAt - 10);
          await redis.xclaim(stream, group, consumer, idleSinceClaim, delivery.id, 'RETRYCOUNT', 0, 'JUSTID');
        }
        // Below maxDeliveries nothing was dead-lettered: the entry comes back for the failed ones.
        if (!keepPending) {
          await deadLetter([...delivery.poison, ...failed], [delivery]);
          passingFailures.delete(delivery.id);
        }
      }
    }

    let stopping = false;

    async function reclaim() {
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
            entriesPerRead,
          )) as AutoClaimReply;
          cursor = next;
          if (deletedIds.length)
            consumerLog.warn(
              { domain, ids: deletedIds },
              'pending events were trimmed from the stream (maxLength) before they were processed',
            );
          if (entries.length) await handleReclaimed(domain, entries);
        } while (cursor !== '0-0' && !stopping);
      }
    }

    const reader = blockingConnection(`consume:${group}:${consumer}`);
    const loop = (async () => {
      let nextClaimAt = 0;
      let failures = 0;
      while (!stopping) {
        try {
          if (Date.now() >= nextClaimAt) {
            await reclaim();
            nextClaimAt = Date.now() + claimEveryMs;
          }
          if (stopping) break;
          const reply = (await reader.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            entriesPerRead,
            'BLOCK',
            blockMs,
            'STREAMS',
            ...streams,
            ...streams.map(() => '>'),
          )) as StreamsReply;
          // Entries read here are already pending on this consumer: handle them even when stopping.
          if (reply) await handleFresh(reply);
          failures = 0;
        } catch (error) {
          failures += 1;
          consumerLog.error({ err: error }, 'consuming events failed; retrying');
          // The stream or group was deleted under us (FLUSHDB, a test's clean-up): make it again.
          if (error instanceof Error && error.message.startsWith('NOGROUP')) await createGroups().catch(() => undefined);
          await sleep(Math.min(100 * 2 ** failures, 2_000));
        }
      }
    })();

    const subscription: ConsumerSubscription = {
      async stop() {
        stopping = true;
        await loop;
        reader.disconnect();
        subscriptions.delete(subscription);
      },
      lag: () => lagOf(group, domains),
    };
    subscriptions.add(subscription);
    return subscription;
  }

  async function tail(tailOptions: TailOptions): Promise<Subscription> {
    const domains = unique(tailOptions.domains);
    const streams = domains.map(topicOf);
    const domainOfKey = domainByKey(domains);
    const tailLog = log.child({ tail: domains });
    // Start from each stream's current last entry rather than '$': an event published right after
    // tail() resolves, before the first read is blocked, must not be missed.
    const lastIds = await Promise.all(
      streams.map(async (stream) => {
        const [last] = await redis.xrevrange(stream, '+', '-', 'COUNT', 1);
        return last?.[0] ?? '0-0';
      }),
    );

    let stopping = false;
    const reader = blockingConnection('tail');
    const loop = (async () => {
      let failures = 0;
      while (!stopping) {
        try {
          const reply = (await reader.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', ...streams, ...lastIds)) as StreamsReply;
          failures = 0;
          if (!reply) continue;
          const events: EventEnvelope[] = [];
          for (const [key, entries] of reply) {
            const domain = domainOfKey.get(key);
            const lastEntry = entries[entries.length - 1];
            if (domain === undefined || !lastEntry) continue;
            lastIds[domains.indexOf(domain)] = lastEntry[0];
            for (const [id, fields] of entries) {
              if (!fields) continue;
              const decoded = decodeEntry(fields);
              events.push(...decoded.events);
              for (const { reason } of decoded.rejected) tailLog.warn({ domain, id, reason }, 'tail skipped a malformed event');
            }
          }
          if (events.length === 0) continue;
          try {
            await tailOptions.handler(events);
          } catch (error) {
            tailLog.warn({ err: error, events: events.length }, 'tail handler failed; tailed events are not redelivered');
          }
        } catch (error) {
          failures += 1;
          tailLog.error({ err: error }, 'tailing events failed; retrying');
          await sleep(Math.min(100 * 2 ** failures, 2_000));
        }
      }
    })();

    const subscription: Subscription = {
      async stop() {
        stopping = true;
        await loop;
        reader.disconnect();
        subscriptions.delete(subscription);
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  return {
    transport: 'redis-streams',
    publish,
    consume,
    tail,
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
    },
  };
}
