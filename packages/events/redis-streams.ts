import { setTimeout as sleep } from 'node:timers/promises';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import type { ConsumeOptions, EventBus, Subscription, TailOptions } from './bus.ts';
import { checkEnvelope, deadLetterOf, domainOf, parseEnvelope, topicOf, type EventEnvelope } from './events.ts';

export interface RedisStreamsBusOptions {
  /** Already key-prefixed; blocking reads run on duplicates of it. */
  redis: Redis;
  clientId: string;
  log: Logger;
  /** Approximate cap on each stream's length (`XADD MAXLEN ~`). */
  maxLength?: number;
  /** A pending message idle this long is taken over from its (presumably crashed) consumer. */
  claimIdleMs?: number;
  /** How long one blocking read waits; stop() returns within about this long. */
  blockMs?: number;
}

/** The one field of a stream entry: the JSON envelope. */
export const envelopeField = 'envelope';

type Entry = [id: string, fields: string[] | null];
type StreamsReply = [key: string, entries: Entry[]][] | null;
type AutoClaimReply = [cursor: string, entries: Entry[], deletedIds?: string[]];
type PendingReply = [id: string, consumer: string, idleMs: number, deliveries: number][];

interface Delivery {
  domain: string;
  id: string;
  raw: string;
  event: EventEnvelope;
  deliveries: number;
}

interface Rejected {
  domain: string;
  id: string;
  raw: string;
  reason: string;
  deliveries: number;
}

type Decoded = { raw: string; event: EventEnvelope } | { raw: string; reason: string };

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1_000);

function decode(fields: string[]): Decoded {
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === envelopeField) raw = fields[i + 1];
  if (raw === undefined) return { raw: JSON.stringify(fields), reason: `no ${envelopeField} field` };
  try {
    return { raw, event: parseEnvelope(JSON.parse(raw)) };
  } catch (error) {
    return { raw, reason: reasonOf(error) };
  }
}

async function execAll(chain: ChainableCommander): Promise<unknown[]> {
  const results = await chain.exec();
  if (!results) throw new Error('Redis discarded the transaction');
  for (const [error] of results) if (error) throw error;
  return results.map(([, result]) => result);
}

const unique = (domains: string[]) => [...new Set(domains)];

export function createRedisStreamsBus(options: RedisStreamsBusOptions): EventBus {
  const { redis } = options;
  const log = options.log.child({ component: 'event-bus', transport: 'redis-streams' });
  const maxLength = options.maxLength ?? 1_000_000;
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
    const connection = redis.duplicate({ commandTimeout: blockMs + 10_000, connectionName: `${options.clientId}:${role}`.replace(/\s/g, '_') });
    // The failing commands are logged by their loops; this only keeps ioredis from printing each reconnect error.
    connection.on('error', (error: Error) => log.debug({ err: error, role }, 'event bus connection error'));
    return connection;
  };

  const domainByKey = (domains: string[]) => new Map(domains.map((domain) => [keyPrefix + topicOf(domain), domain]));

  async function publish(events: EventEnvelope[]) {
    if (events.length === 0) return;
    // Validate the whole batch before writing any of it.
    const entries = events.map((event) => {
      checkEnvelope(event);
      return { stream: topicOf(domainOf(event.type)), body: JSON.stringify(event) };
    });
    const transaction = redis.multi();
    for (const { stream, body } of entries) transaction.xadd(stream, 'MAXLEN', '~', maxLength, '*', envelopeField, body);
    await execAll(transaction);
  }

  async function consume(consumeOptions: ConsumeOptions): Promise<Subscription> {
    const { group, consumer, handler } = consumeOptions;
    const batchSize = consumeOptions.batchSize ?? 500;
    const maxDeliveries = consumeOptions.maxDeliveries ?? 5;
    const domains = unique(consumeOptions.domains);
    const streams = domains.map(topicOf);
    const domainOfKey = domainByKey(domains);
    const consumerLog = log.child({ group, consumer });

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

    const ack = async (deliveries: Delivery[]) => {
      if (deliveries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const domain of domains) {
        const ids = deliveries.filter((delivery) => delivery.domain === domain).map((delivery) => delivery.id);
        if (ids.length) pipeline.xack(topicOf(domain), group, ...ids);
      }
      await execAll(pipeline);
    };

    const deadLetter = async (rejected: Rejected[]) => {
      if (rejected.length === 0) return;
      const transaction = redis.multi();
      for (const { domain, id, raw, reason, deliveries } of rejected) {
        transaction
          .xadd(deadLetterOf(domain), 'MAXLEN', '~', maxLength, '*', envelopeField, raw, 'reason', reason, 'stream', topicOf(domain), 'entryId', id, 'group', group, 'consumer', consumer, 'deliveries', String(deliveries), 'deadLetteredAt', new Date().toISOString())
          .xack(topicOf(domain), group, id);
      }
      await execAll(transaction);
      consumerLog.warn({ events: rejected.map(({ domain, id, reason, deliveries }) => ({ domain, id, reason, deliveries })) }, 'events moved to the dead-letter stream');
    };

    async function handleFresh(reply: NonNullable<StreamsReply>) {
      const accepted: Delivery[] = [];
      const rejected: Rejected[] = [];
      for (const [key, entries] of reply) {
        const domain = domainOfKey.get(key);
        if (domain === undefined) continue;
        for (const [id, fields] of entries) {
          if (!fields) continue;
          const decoded = decode(fields);
          if ('event' in decoded) accepted.push({ domain, id, raw: decoded.raw, event: decoded.event, deliveries: 1 });
          else rejected.push({ domain, id, raw: decoded.raw, reason: decoded.reason, deliveries: 1 });
        }
      }
      await deadLetter(rejected);
      if (accepted.length === 0) return;
      try {
        await handler(accepted.map((delivery) => delivery.event));
      } catch (error) {
        consumerLog.warn({ err: error, events: accepted.length }, `handler failed; the batch stays pending and is redelivered after ${claimIdleMs} ms`);
        return;
      }
      await ack(accepted);
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
      const stream = topicOf(domain);
      const counts = await deliveryCounts(stream, entries);
      const accepted: Delivery[] = [];
      const rejected: Rejected[] = [];
      const gone: string[] = [];
      for (const [id, fields] of entries) {
        const deliveries = counts.get(id);
        if (deliveries === undefined) continue;
        if (!fields) {
          gone.push(id);
          continue;
        }
        const decoded = decode(fields);
        if (!('event' in decoded)) rejected.push({ domain, id, raw: decoded.raw, reason: decoded.reason, deliveries });
        else if (deliveries > maxDeliveries)
          // Its consumers kept dying before they could ack or fail it: it may be what kills them.
          rejected.push({ domain, id, raw: decoded.raw, reason: `not acknowledged after ${deliveries - 1} deliveries`, deliveries: deliveries - 1 });
        else accepted.push({ domain, id, raw: decoded.raw, event: decoded.event, deliveries });
      }
      if (gone.length) await execAll(redis.pipeline().xack(stream, group, ...gone));
      await deadLetter(rejected);
      if (accepted.length === 0) return;
      if (accepted.length > 1) {
        try {
          await handler(accepted.map((delivery) => delivery.event));
          await ack(accepted);
          return;
        } catch (error) {
          consumerLog.warn({ err: error, events: accepted.length }, 'handler failed on redelivered events; retrying them one at a time');
        }
      }
      // One at a time, so that a single failing event is dead-lettered and the others get through.
      for (const delivery of accepted) {
        try {
          await handler([delivery.event]);
        } catch (error) {
          if (delivery.deliveries >= maxDeliveries) {
            await deadLetter([{ domain, id: delivery.id, raw: delivery.raw, reason: `handler failed ${delivery.deliveries} times: ${reasonOf(error)}`, deliveries: delivery.deliveries }]);
          } else {
            consumerLog.warn({ err: error, id: delivery.id, deliveries: delivery.deliveries }, 'handler failed on a redelivered event; it stays pending');
          }
          continue;
        }
        await ack([delivery]);
      }
    }

    let stopping = false;

    async function reclaim() {
      for (const domain of domains) {
        const stream = topicOf(domain);
        let cursor = '0-0';
        do {
          const [next, entries, deletedIds = []] = (await redis.xautoclaim(stream, group, consumer, claimIdleMs, cursor, 'COUNT', batchSize)) as AutoClaimReply;
          cursor = next;
          if (deletedIds.length) consumerLog.warn({ domain, ids: deletedIds }, 'pending events were trimmed from the stream (maxLength) before they were processed');
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
          const reply = (await reader.xreadgroup('GROUP', group, consumer, 'COUNT', batchSize, 'BLOCK', blockMs, 'STREAMS', ...streams, ...streams.map(() => '>'))) as StreamsReply;
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
              const decoded = decode(fields);
              if ('event' in decoded) events.push(decoded.event);
              else tailLog.warn({ domain, id, reason: decoded.reason }, 'tail skipped a malformed event');
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
