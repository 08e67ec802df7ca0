import type { Batch, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from '@mindweave/service-kit';
import type { BatchHandler } from './bus.ts';
import { parseEnvelope, type EventEnvelope } from './events.ts';
import { deliveryLimit } from './failures.ts';

// What a Kafka consumer does with each fetched batch, apart from kafkajs so that it can be driven
// directly (no broker runs here). A handler's failure never reaches kafkajs: thrown into its
// retrier, a TypeError crashes the consumer for good (kafkajs takes it as non-retriable) and any
// other error crashes, leaves and rejoins the group every 20-40 s while a dependency is down, a
// rebalance storm. Instead the partition is paused and fetched again from the failed message after
// a backoff, and an event that keeps failing is dead-lettered, as on Redis Streams.

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1_000);

type Decoded = { message: KafkaMessage; event: EventEnvelope } | { message: KafkaMessage; reason: string };

export function decode(message: KafkaMessage): Decoded {
  if (!message.value) return { message, reason: 'empty message' };
  try {
    return { message, event: parseEnvelope(JSON.parse(message.value.toString('utf8'))) };
  } catch (error) {
    return { message, reason: reasonOf(error) };
  }
}

/** Sends one message to its domain's dead-letter topic; resolves once the broker has it. */
export type DeadLetter = (
  domain: string,
  topic: string,
  partition: number,
  message: KafkaMessage,
  reason: string,
  deliveries: number,
) => Promise<void>;

export interface BatchProcessorOptions {
  handler: BatchHandler;
  deadLetter: DeadLetter;
  domainOfTopic: ReadonlyMap<string, string>;
  batchSize: number;
  /** Failures of one event before it is dead-lettered (many more for a passing failure: failures.ts). */
  maxDeliveries: number;
  log: Logger;
  /** The first pause after a failure; each further one in a row doubles, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Heartbeats sent while a handler runs, so that a long one does not cost the group its partitions. */
  heartbeatEveryMs: number;
}

/** What the processors use of kafkajs' eachBatch payload. */
export type BatchPayload = Pick<
  EachBatchPayload,
  'resolveOffset' | 'heartbeat' | 'pause' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'
> & {
  batch: Pick<Batch, 'topic' | 'partition' | 'messages'>;
};

/** The `eachBatch` of a consumer group (kafkajs with eachBatchAutoResolve off), and what stops its timers. */
export function createBatchProcessor(options: BatchProcessorOptions) {
  const { handler, deadLetter, domainOfTopic, batchSize, maxDeliveries, log } = options;
  const backoffMs = options.backoffMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  /** Failed handler calls per `topic/partition/offset`: in memory, so a rebalance or restart counts again (more tries, never fewer). */
  const failures = new Map<string, number>();
  /** Pauses in a row per `topic/partition`, for the backoff. */
  const pausesInRow = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const keyOf = (topic: string, partition: number, offset: string) => `${topic}/${partition}/${offset}`;

  const countFailure = (key: string) => {
    const count = (failures.get(key) ?? 0) + 1;
    failures.delete(key);
    failures.set(key, count);
    const oldest = failures.keys().next();
    if (failures.size > 10_000 && !oldest.done) failures.delete(oldest.value);
    return count;
  };

  async function withHeartbeats(heartbeat: () => Promise<void>, work: () => Promise<void>) {
    // A heartbeat that fails (a rebalance under way) is left to kafkajs' own next one.
    const timer = setInterval(() => void heartbeat().catch(() => undefined), options.heartbeatEveryMs);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
  }

  /** Stops fetching the partition for a while; kafkajs then fetches it again from the last resolved offset. */
  function pauseAfterFailure(payload: BatchPayload, offset: string, why: string, error: unknown) {
    const { topic, partition } = payload.batch;
    const inRow = (pausesInRow.get(`${topic}/${partition}`) ?? 0) + 1;
    pausesInRow.set(`${topic}/${partition}`, inRow);
    const delayMs = Math.min(maxBackoffMs, backoffMs * 2 ** (inRow - 1));
    const resume = payload.pause();
    const timer = setTimeout(() => {
      timers.delete(timer);
      resume();
    }, delayMs);
    timers.add(timer);
    log.warn({ err: error, topic, partition, offset, delayMs }, `${why}; the partition is paused and fetched again from this event`);
  }

  async function eachBatch(payload: BatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const domain = domainOfTopic.get(topic);
    if (domain === undefined) return;
    for (let start = 0; start < batch.messages.length; start += batchSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + batchSize).map(decode);
      const events = chunk.flatMap((entry) => ('event' in entry ? [entry.event] : []));
      const retried = chunk.some(({ message }) => failures.has(keyOf(topic, partition, message.offset)));
      let handled = events.length === 0;
      if (!handled && !retried) {
        try {
          await withHeartbeats(heartbeat, () => handler(events));
          handled = true;
        } catch (error) {
          log.warn({ err: error, topic, partition, events: events.length }, 'handler failed on a batch; trying its events one at a time');
        }
      }
      // One at a time after a failure, so that one failing event is dead-lettered and the others get through.
      for (const entry of chunk) {
        const { offset } = entry.message;
        const key = keyOf(topic, partition, offset);
        try {
          if ('reason' in entry) await deadLetter(domain, topic, partition, entry.message, entry.reason, 1);
          else if (!handled) {
            try {
              await withHeartbeats(heartbeat, () => handler([entry.event]));
            } catch (error) {
              const count = countFailure(key);
              if (count < deliveryLimit(error, maxDeliveries))
                return pauseAfterFailure(payload, offset, `handler failed (${count} time(s))`, error);
              await deadLetter(domain, topic, partition, entry.message, `handler failed ${count} times: ${reasonOf(error)}`, count);
            }
          }
        } catch (error) {
          // The dead-letter topic could not take it: the broker is in trouble, so try again later.
          return pauseAfterFailure(payload, offset, 'dead-lettering failed', error);
        }
        failures.delete(key);
        resolveOffset(offset);
      }
      pausesInRow.delete(`${topic}/${partition}`);
      // Errors of these two are kafkajs' own (a rebalance): it handles them by rejoining.
      await heartbeat();
      await commitOffsetsIfNecessary();
    }
  }

  return {
    eachBatch,
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** The minimum of a kafkajs consumer that tail positions need. */
export interface Seeker {
  seek(position: { topic: string; partition: number; offset: string }): void;
}

/**
 * Where a tail (the live feed of subscriptions, a group of its own that commits nothing) is in each
 * partition. A tail starts at the end of each partition; kafkajs restarts a crashed consumer and
 * the group rejoins at the latest offset, which would skip what was published meanwhile, so every
 * (re)join seeks back to the message after the last one handled, like the Redis tail's last ids.
 */
export function createTailPositions() {
  const next = new Map<string, { topic: string; partition: number; offset: string }>();
  return {
    /** Where to start a partition that nothing was read from yet (its end when the tail began). */
    startAt(topic: string, partition: number, offset: string) {
      if (!next.has(`${topic}/${partition}`)) next.set(`${topic}/${partition}`, { topic, partition, offset });
    },
    /** After handling a message: resume after it. */
    handled(topic: string, partition: number, offset: string) {
      next.set(`${topic}/${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    },
    /** On every group join, the first included. */
    seekAll(consumer: Seeker) {
      for (const position of next.values()) consumer.seek(position);
    },
  };
}

/** The `eachBatch` of a tail: every event to the handler (its failure is logged, not retried), positions kept. */
export function createTailProcessor(options: { handler: BatchHandler; positions: ReturnType<typeof createTailPositions>; log: Logger }) {
  return async function eachBatch({ batch, heartbeat, isStale }: Pick<BatchPayload, 'batch' | 'heartbeat' | 'isStale'>) {
    if (isStale()) return;
    const events: EventEnvelope[] = [];
    for (const entry of batch.messages.map(decode)) {
      if ('event' in entry) events.push(entry.event);
      else options.log.warn({ topic: batch.topic, offset: entry.message.offset, reason: entry.reason }, 'tail skipped a malformed event');
    }
    if (events.length) {
      try {
        await options.handler(events);
      } catch (error) {
        options.log.warn({ err: error, events: events.length }, 'tail handler failed; tailed events are not redelivered');
      }
    }
    const last = batch.messages[batch.messages.length - 1];
    if (last) options.positions.handled(batch.topic, batch.partition, last.offset);
    await heartbeat();
  };
}

/** What superviseConsumer needs of a kafkajs consumer. */
export interface SupervisedConsumer {
  readonly events: { readonly CRASH: 'consumer.crash'; readonly GROUP_JOIN: 'consumer.group_join' };
  on(event: 'consumer.crash', listener: (event: { payload: { error: Error; restart: boolean } }) => void): unknown;
  on(event: 'consumer.group_join', listener: () => void): unknown;
  disconnect(): Promise<void>;
}

/**
 * Keeps a consumer running. kafkajs restarts one after a retriable crash; one whose error it takes
 * for non-retriable (a rejected authorization, say) stops for good without a word. Then a new
 * consumer is created and launched after a pause (5 s, doubling to a minute while it keeps
 * crashing before it joins its group), until stop().
 */
export function superviseConsumer<C extends SupervisedConsumer>(options: {
  create: () => C;
  launch: (consumer: C) => Promise<void>;
  log: Logger;
  firstPauseMs?: number;
}) {
  const firstPauseMs = options.firstPauseMs ?? 5_000;
  let current: C | undefined;
  let stopped = false;
  let crashes = 0;
  let relaunch: NodeJS.Timeout | undefined;
  async function start(): Promise<void> {
    const consumer = options.create();
    current = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || stopped) return;
      const delayMs = Math.min(60_000, firstPauseMs * 2 ** crashes++);
      options.log.error(
        { err: payload.error, delayMs },
        'Kafka consumer stopped after a crash kafkajs does not restart; launching a new one',
      );
      relaunch = setTimeout(
        () => void start().catch((error: unknown) => options.log.error({ err: error }, 'Kafka consumer could not be launched again')),
        delayMs,
      );
    });
    consumer.on(consumer.events.GROUP_JOIN, () => void (crashes = 0));
    await options.launch(consumer);
  }
  return {
    start,
    async stop() {
      stopped = true;
      clearTimeout(relaunch);
      // disconnect() stops the consumer after the batch in hand, commits and leaves the group.
      await current?.disconnect();
    },
  };
}
