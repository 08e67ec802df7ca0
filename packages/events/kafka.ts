import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as KafkaJs from 'kafkajs';
import type { KafkaConfig, LogEntry, Message, SASLOptions } from 'kafkajs';
import type { KafkaSettings, Logger } from '@mindweave/service-kit';
import type { ConsumeOptions, ConsumerLag, ConsumerSubscription, EventBus, Subscription, TailOptions } from './bus.ts';
import { checkEnvelope, deadLetterOf, domainOf, organizationOf, topicOf, type EventEnvelope } from './events.ts';
import { createBatchProcessor, createTailPositions, createTailProcessor, superviseConsumer, type DeadLetter } from './kafka-consumer.ts';
import { ensureTopics } from './kafka-topics.ts';

export interface KafkaBusOptions {
  settings: KafkaSettings;
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

// kafkajs is loaded once a cluster is configured, not by every process that imports the bus: with
// Redis Streams (the default) it would be a few MB of every service's heap for nothing.
let kafkaJs: typeof KafkaJs | undefined;
const loadKafkaJs = (): typeof KafkaJs => (kafkaJs ??= createRequire(import.meta.url)('kafkajs') as typeof KafkaJs);

const unique = (domains: string[]) => [...new Set(domains)];

/** One organization's events share a partition, so they stay in order. */
function partitionKeyOf(event: EventEnvelope): string {
  return organizationOf(event) ?? event.aggregateId;
}

function forwardLog(log: Logger, { namespace, level, log: { message, timestamp: _timestamp, ...extra } }: LogEntry) {
  const { logLevel } = loadKafkaJs();
  const fields = { namespace, ...extra };
  if (level === logLevel.ERROR) log.error(fields, message);
  else if (level === logLevel.WARN) log.warn(fields, message);
  else if (level === logLevel.INFO) log.info(fields, message);
  else log.debug(fields, message);
}

type Sasl = NonNullable<KafkaSettings['sasl']>;
// kafkajs types SASL as a union per mechanism: narrowed one branch at a time.
const saslOf = ({ mechanism, username, password }: Sasl): SASLOptions =>
  mechanism === 'plain'
    ? { mechanism, username, password }
    : mechanism === 'scram-sha-256'
      ? { mechanism, username, password }
      : { mechanism, username, password };

/** kafkajs' client settings: brokers, TLS and SASL (managed clusters need both). */
export function kafkaClientConfig(settings: KafkaSettings, clientId: string, log: Logger): KafkaConfig {
  const { ssl, sasl } = settings;
  return {
    clientId,
    brokers: settings.brokers,
    ...(ssl ? { ssl: ssl === true ? true : { ca: [ssl.ca] } } : {}),
    ...(sasl ? { sasl: saslOf(sasl) } : {}),
    logLevel: loadKafkaJs().logLevel.INFO,
    logCreator: () => (entry) => forwardLog(log, entry),
  };
}

export function createKafkaBus(options: KafkaBusOptions): EventBus {
  const log = options.log.child({ component: 'event-bus', transport: 'kafka' });
  const { settings } = options;
  const topicPrefix = options.topicPrefix ?? '';
  const topicOfDomain = (domain: string) => topicPrefix + topicOf(domain);
  const deadLetterTopicOf = (domain: string) => topicPrefix + deadLetterOf(domain);
  const sessionTimeout = Math.max(options.claimIdleMs ?? 30_000, 6_000);
  const heartbeatInterval = Math.min(3_000, Math.floor(sessionTimeout / 3));

  const kafka = new (loadKafkaJs().Kafka)(kafkaClientConfig(settings, options.clientId, log));
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
  async function ensure(topics: string[]) {
    const missing = topics.filter((topic) => !knownTopics.has(topic));
    if (missing.length === 0) return;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, missing, settings, log);
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
      messages.push({
        key: partitionKeyOf(event),
        value: JSON.stringify(event),
        headers: { 'event-id': event.id, 'event-type': event.type },
      });
      messagesByTopic.set(topic, messages);
    }
    await ensure([...messagesByTopic.keys()]);
    await connectProducer();
    // Resolves once every in-sync replica has the messages (acks -1): then the events are in the log.
    await producer.sendBatch({ acks: -1, topicMessages: [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  async function consume(consumeOptions: ConsumeOptions): Promise<ConsumerSubscription> {
    const { group, consumer: consumerName, handler } = consumeOptions;
    const domains = unique(consumeOptions.domains);
    const domainOfTopic = new Map(domains.map((domain) => [topicOfDomain(domain), domain]));
    const consumerLog = log.child({ group, consumer: consumerName });
    await ensure([...domainOfTopic.keys(), ...domains.map(deadLetterTopicOf)]);
    await connectProducer();

    const deadLetter: DeadLetter = async (domain, topic, partition, message, reason, deliveries) => {
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
      consumerLog.warn({ topic, partition, offset: message.offset, reason, deliveries }, 'event moved to the dead-letter topic');
    };
    const processor = createBatchProcessor({
      handler,
      deadLetter,
      domainOfTopic,
      batchSize: consumeOptions.batchSize ?? 500,
      maxDeliveries: consumeOptions.maxDeliveries ?? 5,
      log: consumerLog,
      heartbeatEveryMs: heartbeatInterval,
    });

    const consumer = superviseConsumer({
      create: () => kafka.consumer({ groupId: group, sessionTimeout, heartbeatInterval }),
      log: consumerLog,
      launch: async (kafkaConsumer) => {
        await kafkaConsumer.connect();
        // A new group starts at the earliest retained offset, like the Redis transport's groups.
        await kafkaConsumer.subscribe({ topics: [...domainOfTopic.keys()], fromBeginning: true });
        // Offsets are resolved one by one (kafka-consumer.ts): resolving a whole batch would skip an event paused on.
        await kafkaConsumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 5_000, eachBatch: processor.eachBatch });
      },
    });
    await consumer.start();

    async function lag(): Promise<ConsumerLag[]> {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return await Promise.all(
          domains.map(async (domain) => {
            const topic = topicOfDomain(domain);
            const [ends, [committed], deadLetters] = await Promise.all([
              admin.fetchTopicOffsets(topic),
              admin.fetchOffsets({ groupId: group, topics: [topic] }),
              admin.fetchTopicOffsets(deadLetterTopicOf(domain)),
            ]);
            const committedOf = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
            const behind = ends.reduce(
              (sum, { partition, high, low }) => sum + Number(high) - Math.max(committedOf.get(partition) ?? -1, Number(low)),
              0,
            );
            const deadLettered = deadLetters.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
            return { domain, group, lag: behind, pending: null, deadLettered };
          }),
        );
      } finally {
        await admin.disconnect();
      }
    }

    return track(consumer, { lag }, processor.stop);
  }

  async function tail(tailOptions: TailOptions): Promise<Subscription> {
    const topics = unique(tailOptions.domains).map(topicOfDomain);
    await ensure(topics);
    // The end of each partition now: events published after tail() resolves are at or beyond it,
    // however long the group join below takes.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) }))).finally(() =>
      admin.disconnect(),
    );
    const positions = createTailPositions();
    for (const { topic, partitions } of ends) for (const { partition, high } of partitions) positions.startAt(topic, partition, high);

    // A group of its own, so every tailing instance sees every event; nothing is committed.
    const eachBatch = createTailProcessor({ handler: tailOptions.handler, positions, log: log.child({ tail: tailOptions.domains }) });
    const groupId = `${options.clientId}.tail.${randomUUID()}`;
    const consumer = superviseConsumer({
      create: () => kafka.consumer({ groupId, sessionTimeout }),
      log,
      launch: async (kafkaConsumer) => {
        kafkaConsumer.on(kafkaConsumer.events.GROUP_JOIN, () => positions.seekAll(kafkaConsumer));
        await kafkaConsumer.connect();
        await kafkaConsumer.subscribe({ topics, fromBeginning: false });
        await kafkaConsumer.run({ autoCommit: false, eachBatch });
      },
    });
    await consumer.start();
    return track(consumer, {});
  }

  function track<T extends object>(
    consumer: { stop(): Promise<void> },
    extra: T,
    beforeStop: () => void = () => undefined,
  ): Subscription & T {
    const subscription: Subscription & T = {
      ...extra,
      async stop() {
        beforeStop();
        await consumer.stop();
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
