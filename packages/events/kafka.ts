import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type Message } from 'kafkajs';
import type { Logger } from '@mindweave/service-kit';
import type { ConsumeOptions, EventBus, Subscription, TailOptions } from './bus.ts';
import { checkEnvelope, deadLetterOf, domainOf, parseEnvelope, topicOf, type EventEnvelope } from './events.ts';
import { deliveryLimit } from './failures.ts';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
  /** Prepended to every topic name, to keep environments (or test runs) on one cluster apart. */
  topicPrefix?: string;
  /**
   * The consumer session timeout: how long a silent (crashed, stuck) consumer keeps its
   * partitions before the group rebalances them to the others. Brokers refuse less than 6 s by default.
   */
  claimIdleMs?: number;
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1_000);
const unique = (domains: string[]) => [...new Set(domains)];

/** One organization's events share a partition, so they stay in order. */
function partitionKeyOf(event: EventEnvelope): string {
  const organizationId = (event.data as { organizationId?: unknown }).organizationId;
  return typeof organizationId === 'string' ? organizationId : event.aggregateId;
}

type Decoded = { event: EventEnvelope } | { reason: string };

function decode(message: KafkaMessage): Decoded {
  if (!message.value) return { reason: 'empty message' };
  try {
    return { event: parseEnvelope(JSON.parse(message.value.toString('utf8'))) };
  } catch (error) {
    return { reason: reasonOf(error) };
  }
}

function forwardLog(log: Logger, { namespace, level, log: { message, timestamp: _timestamp, ...extra } }: LogEntry) {
  const fields = { namespace, ...extra };
  if (level === logLevel.ERROR) log.error(fields, message);
  else if (level === logLevel.WARN) log.warn(fields, message);
  else if (level === logLevel.INFO) log.info(fields, message);
  else log.debug(fields, message);
}

export function createKafkaBus(options: KafkaBusOptions): EventBus {
  const log = options.log.child({ component: 'event-bus', transport: 'kafka' });
  const topicPrefix = options.topicPrefix ?? '';
  const topicOfDomain = (domain: string) => topicPrefix + topicOf(domain);
  const deadLetterTopicOf = (domain: string) => topicPrefix + deadLetterOf(domain);
  const sessionTimeout = Math.max(options.claimIdleMs ?? 30_000, 6_000);

  const kafka = new Kafka({ clientId: options.clientId, brokers: options.brokers, logLevel: logLevel.INFO, logCreator: () => (entry) => forwardLog(log, entry) });
  // Idempotence makes the producer's retries safe (no duplicates, no reordering); kafkajs keeps
  // its sequence numbers right only with one request in flight.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let producerConnected: Promise<void> | undefined;
  const connectProducer = () =>
    (producerConnected ??= producer.connect().catch((error: unknown) => {
      producerConnected = undefined;
      throw error;
    }));

  // Clusters often turn automatic topic creation off: create the topics we use, once each.
  const knownTopics = new Set<string>();
  async function ensureTopics(topics: string[]) {
    const missing = topics.filter((topic) => !knownTopics.has(topic));
    if (missing.length === 0) return;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    for (const topic of missing) knownTopics.add(topic);
  }

  const subscriptions = new Set<Subscription>();

  async function publish(events: EventEnvelope[]) {
    if (events.length === 0) return;
    const messagesByTopic = new Map<string, Message[]>();
    for (const event of events) {
      checkEnvelope(event);
      const topic = topicOfDomain(domainOf(event.type));
      const messages = messagesByTopic.get(topic) ?? [];
      messages.push({ key: partitionKeyOf(event), value: JSON.stringify(event), headers: { 'event-id': event.id, 'event-type': event.type } });
      messagesByTopic.set(topic, messages);
    }
    await ensureTopics([...messagesByTopic.keys()]);
    await connectProducer();
    await producer.sendBatch({ acks: -1, topicMessages: [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  async function consume(consumeOptions: ConsumeOptions): Promise<Subscription> {
    const { group, consumer: consumerName, handler } = consumeOptions;
    const batchSize = consumeOptions.batchSize ?? 500;
    const maxDeliveries = consumeOptions.maxDeliveries ?? 5;
    const domains = unique(consumeOptions.domains);
    const domainOfTopic = new Map(domains.map((domain) => [topicOfDomain(domain), domain]));
    const consumerLog = log.child({ group, consumer: consumerName });
    await ensureTopics([...domainOfTopic.keys(), ...domains.map(deadLetterTopicOf)]);
    await connectProducer();

    // Failed handler calls per `topic/partition/offset`; in memory, so a rebalance or restart
    // starts the count again (a message may then get more than maxDeliveries attempts, never fewer).
    const attempts = new Map<string, number>();
    const deadLettered = new Set<string>();
    const keyOf = (topic: string, partition: number, offset: string) => `${topic}/${partition}/${offset}`;

    async function deadLetter(domain: string, topic: string, partition: number, message: KafkaMessage, reason: string, deliveries: number) {
      const key = keyOf(topic, partition, message.offset);
      if (deadLettered.has(key)) return;
      await producer.send({
        topic: deadLetterTopicOf(domain),
        acks: -1,
        messages: [
          {
            key: message.key,
            value: message.value,
            headers: {
              ...message.headers,
              'dead-letter-reason': reason,
              'source-topic': topic,
              'source-partition': String(partition),
              'source-offset': message.offset,
              group,
              consumer: consumerName,
              deliveries: String(deliveries),
              'dead-lettered-at': new Date().toISOString(),
            },
          },
        ],
      });
      deadLettered.add(key);
      consumerLog.warn({ topic, partition, offset: message.offset, reason, deliveries }, 'event moved to the dead-letter topic');
    }

    const forget = (key: string) => {
      attempts.delete(key);
      deadLettered.delete(key);
    };

    async function eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload) {
      const { topic, partition } = batch;
      const domain = domainOfTopic.get(topic);
      if (domain === undefined) return;
      for (let start = 0; start < batch.messages.length; start += batchSize) {
        if (!isRunning() || isStale()) return;
        const chunk = batch.messages.slice(start, start + batchSize);
        const accepted: { message: KafkaMessage; event: EventEnvelope; key: string }[] = [];
        for (const message of chunk) {
          const decoded = decode(message);
          if ('event' in decoded) accepted.push({ message, event: decoded.event, key: keyOf(topic, partition, message.offset) });
          else await deadLetter(domain, topic, partition, message, decoded.reason, 1);
        }

        if (!accepted.some(({ key }) => attempts.has(key))) {
          try {
            if (accepted.length) await handler(accepted.map(({ event }) => event));
          } catch (error) {
            for (const { key } of accepted) attempts.set(key, 1);
            consumerLog.warn({ err: error, topic, partition, events: accepted.length }, 'handler failed; the batch is redelivered');
            // kafkajs fetches again from the last resolved offset.
            throw error;
          }
        } else {
          // A redelivery: one event at a time, so that a single failing event is dead-lettered
          // and the ones behind it get through.
          for (const { message, event, key } of accepted) {
            try {
              await handler([event]);
            } catch (error) {
              const failures = (attempts.get(key) ?? 0) + 1;
              attempts.set(key, failures);
              // A dependency down is not the event's fault: it gets many more tries (failures.ts).
              if (failures < deliveryLimit(error, maxDeliveries)) {
                consumerLog.warn({ err: error, topic, partition, offset: message.offset, failures }, 'handler failed on a redelivered event; it is redelivered');
                throw error;
              }
              await deadLetter(domain, topic, partition, message, `handler failed ${failures} times: ${reasonOf(error)}`, failures);
            }
            resolveOffset(message.offset);
            forget(key);
          }
        }

        const last = chunk[chunk.length - 1];
        if (last) resolveOffset(last.offset);
        for (const message of chunk) forget(keyOf(topic, partition, message.offset));
        await heartbeat();
        await commitOffsetsIfNecessary();
      }
    }

    const consumer = kafka.consumer({ groupId: group, sessionTimeout, heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)) });
    await consumer.connect();
    // A new group starts at the earliest retained offset, like the Redis transport's groups.
    await consumer.subscribe({ topics: [...domainOfTopic.keys()], fromBeginning: true });
    await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 5_000, eachBatch });
    return track(consumer);
  }

  async function tail(tailOptions: TailOptions): Promise<Subscription> {
    const topics = unique(tailOptions.domains).map(topicOfDomain);
    const tailLog = log.child({ tail: tailOptions.domains });
    await ensureTopics(topics);
    // The end of each partition now: events published after tail() resolves are at or beyond it,
    // however long the group join below takes.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) }))).finally(() => admin.disconnect());

    // A group of its own, so every tailing instance sees every event; nothing is committed.
    const consumer = kafka.consumer({ groupId: `${options.clientId}.tail.${randomUUID()}`, sessionTimeout });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, isStale }) => {
        if (isStale()) return;
        const events: EventEnvelope[] = [];
        for (const message of batch.messages) {
          const decoded = decode(message);
          if ('event' in decoded) events.push(decoded.event);
          else tailLog.warn({ topic: batch.topic, offset: message.offset, reason: decoded.reason }, 'tail skipped a malformed event');
        }
        if (events.length) {
          try {
            await tailOptions.handler(events);
          } catch (error) {
            tailLog.warn({ err: error, events: events.length }, 'tail handler failed; tailed events are not redelivered');
          }
        }
        await heartbeat();
      },
    });
    for (const { topic, partitions } of ends) for (const { partition, high } of partitions) consumer.seek({ topic, partition, offset: high });
    return track(consumer);
  }

  function track(consumer: Consumer): Subscription {
    const subscription: Subscription = {
      // disconnect() stops the consumer after the batch in hand, commits and leaves the group.
      async stop() {
        await consumer.disconnect();
        subscriptions.delete(subscription);
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  return {
    transport: 'kafka',
    publish,
    consume,
    tail,
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      if (producerConnected) await producer.disconnect();
      producerConnected = undefined;
    },
  };
}
