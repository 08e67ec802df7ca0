import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import type { ConsumeOptions, ConsumerSubscription, EventBus, Subscription, TailOptions } from './bus.ts';
import { checkEnvelope, domainOf, topicOf, type EventEnvelope } from './events.ts';
import { decodeEntry, packedFields, type StreamsReply } from './redis-streams/entries.ts';
import { createFreshDelivery } from './redis-streams/fresh.ts';
import { lagOf } from './redis-streams/lag.ts';
import { createPassingFailures } from './redis-streams/passing-failures.ts';
import { ensureGroups, startReading } from './redis-streams/reader.ts';
import { createReadSize } from './redis-streams/read-size.ts';
import { createReclaimer } from './redis-streams/reclaim.ts';
import { createRedelivery } from './redis-streams/redeliver.ts';
import { createSettler, execAll } from './redis-streams/settle.ts';

export { envelopeField, envelopesField, eventsOfEntry, packSize } from './redis-streams/entries.ts';

// The bus composes the units under redis-streams/, one concern each: the entry format (entries),
// consumer groups and the read loop (reader), new entries (fresh), stale pending ones (reclaim,
// redeliver), acknowledging and dead-lettering (settle), the adaptive read size (read-size).

const unique = (domains: string[]) => [...new Set(domains)];

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
      for (const [field, value] of packedFields(list)) transaction.xadd(stream, 'MAXLEN', '~', maxLength, '*', field, value);
    }
    await execAll(transaction);
  }

  async function consume(consumeOptions: ConsumeOptions): Promise<ConsumerSubscription> {
    const { group, consumer, handler } = consumeOptions;
    const batchSize = consumeOptions.batchSize ?? 500;
    const maxDeliveries = consumeOptions.maxDeliveries ?? 5;
    const domains = unique(consumeOptions.domains);
    const streams = domains.map(topicOf);
    const consumerLog = log.child({ group, consumer });
    const readSize = createReadSize(batchSize);
    const settler = createSettler({ redis, domains, group, consumer, maxLength, log: consumerLog });
    const groupKeys = streams.map((stream) => keyPrefix + stream);
    const createGroups = () => ensureGroups(redis, groupKeys, group);
    await createGroups();

    const redeliver = createRedelivery({ handler, settler, passingFailures: createPassingFailures(), maxDeliveries, log: consumerLog });
    const reading = startReading({
      connection: blockingConnection(`consume:${group}:${consumer}`),
      streams,
      group,
      consumer,
      blockMs,
      claimEveryMs,
      readSize,
      reclaim: createReclaimer({ redis, domains, group, consumer, claimIdleMs, readSize, redeliver, log: consumerLog }),
      deliverFresh: createFreshDelivery({
        domainOfKey: domainByKey(domains),
        batchSize,
        handler,
        settler,
        readSize,
        claimIdleMs,
        log: consumerLog,
      }),
      ensureGroups: createGroups,
      log: consumerLog,
    });

    const subscription: ConsumerSubscription = {
      async stop() {
        await reading.stop();
        subscriptions.delete(subscription);
      },
      lag: () => lagOf(redis, group, domains),
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
