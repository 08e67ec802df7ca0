import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, createRedis } from '@mindweave/service-kit';
import {
  createEvent,
  createEventBus,
  deadLetterOf,
  eventsOfEntry,
  parseEnvelope,
  topicOf,
  type EventBus,
  type EventBusOptions,
  type EventEnvelope,
} from './index.ts';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const kafkaBrokers = (process.env['KAFKA_BROKERS'] ?? '')
  .split(',')
  .map((broker) => broker.trim())
  .filter(Boolean);
if (kafkaBrokers.length === 0)
  console.log('events contract: the Kafka contract run was skipped because no broker is configured (KAFKA_BROKERS unset)');

const log = createLogger({ name: 'events-test', level: process.env['LOG_LEVEL'] ?? 'silent' });
const randomSuffix = () => randomBytes(4).toString('hex');

interface DeadLetter {
  raw: string;
  reason: string;
  deliveries: number;
}

/** What a test needs from one transport, beyond the bus itself: raw writes and a look at the log. */
interface Harness {
  bus(options?: Partial<EventBusOptions>): EventBus;
  /** A bus whose broker cannot be reached. */
  unreachableBus(): EventBus;
  /** A consumer-group name of this test's own. */
  group(label: string): string;
  injectRaw(domain: string, raw: string): Promise<void>;
  /** Read on connections of their own, so they see only what the broker acknowledged. */
  readLog(domain: string): Promise<EventEnvelope[]>;
  logLength(domain: string): Promise<number>;
  deadLetters(domain: string): Promise<DeadLetter[]>;
  /** Delivered to the group but not acknowledged (Redis: pending; Kafka: lag behind committed offsets). */
  unprocessed(domain: string, group: string): Promise<number>;
  cleanup(): Promise<void>;
}

interface Transport {
  name: 'redis-streams' | 'kafka';
  enabled: boolean;
  claimIdleMs: number;
  /** How long a test waits for something that should happen. */
  patienceMs: number;
  testTimeoutMs: number;
  /** Redis Streams trims by entry count; Kafka retention is by time or size. */
  boundedByCount: boolean;
  setup(): Promise<Harness>;
}

const fieldsOf = (fields: string[]) =>
  Object.fromEntries(fields.flatMap((value, index) => (index % 2 === 0 ? [[value, fields[index + 1] ?? '']] : [])));

async function redisHarness(): Promise<Harness> {
  const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}events-${randomSuffix()}:`;
  const redis = createRedis(redisUrl, prefix);
  const observer = createRedis(redisUrl, prefix);
  const unreachable: Redis[] = [];
  const buses: EventBus[] = [];
  // Entries may pack several events: the log is read event by event.
  const readLog = async (domain: string) =>
    (await observer.xrange(topicOf(domain), '-', '+')).flatMap(([, fields]) => eventsOfEntry(fields));
  return {
    bus(options = {}) {
      const bus = createEventBus({ redis, clientId: 'events-test', log, claimIdleMs: 300, blockMs: 100, ...options });
      buses.push(bus);
      return bus;
    },
    unreachableBus() {
      const nowhere = createRedis('redis://127.0.0.1:1', prefix);
      nowhere.on('error', () => undefined);
      unreachable.push(nowhere);
      return createEventBus({ redis: nowhere, clientId: 'events-test', log });
    },
    group: (label) => `${label}-${randomSuffix()}`,
    async injectRaw(domain, raw) {
      await observer.xadd(topicOf(domain), '*', 'envelope', raw);
    },
    readLog,
    logLength: async (domain) => (await readLog(domain)).length,
    async deadLetters(domain) {
      const entries = await observer.xrange(deadLetterOf(domain), '-', '+');
      return entries.map(([, fields]) => {
        const record = fieldsOf(fields);
        return { raw: record['envelope'] ?? '', reason: record['reason'] ?? '', deliveries: Number(record['deliveries']) };
      });
    },
    async unprocessed(domain, group) {
      const [count] = (await observer.xpending(topicOf(domain), group)) as [number];
      return count;
    },
    async cleanup() {
      await Promise.all(buses.map((bus) => bus.close()));
      const raw = new Redis(redisUrl);
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length) await raw.del(...keys);
      raw.disconnect();
      for (const client of [redis, observer, ...unreachable]) client.disconnect();
    },
  };
}

async function kafkaHarness(): Promise<Harness> {
  // Kafka has no key prefix: each test gets topics of its own, deleted afterwards.
  const topicPrefix = `events-test-${randomSuffix()}.`;
  const redis = createRedis(redisUrl, `${process.env['REDIS_KEY_PREFIX'] ?? ''}events-kafka-${randomSuffix()}:`);
  const kafka = new Kafka({ clientId: 'events-test-probe', brokers: kafkaBrokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  // Several partitions, so that two consumers of a group can split them.
  await admin.createTopics({
    topics: ['usage', 'policy']
      .flatMap((domain) => [topicOf(domain), deadLetterOf(domain)])
      .map((topic) => ({ topic: topicPrefix + topic, numPartitions: 4 })),
    waitForLeaders: true,
  });
  const buses: EventBus[] = [];
  const groups: string[] = [];

  const ends = async (topic: string) => {
    const partitions = await admin.fetchTopicOffsets(topic);
    return partitions.map(({ partition, high, low }) => ({ partition, high: Number(high), low: Number(low) }));
  };

  async function readTopic(topic: string): Promise<KafkaMessage[]> {
    const remaining = new Map((await ends(topic)).filter(({ high, low }) => high > low).map(({ partition, high }) => [partition, high]));
    if (remaining.size === 0) return [];
    const groupId = `${topicPrefix}probe-${randomSuffix()}`;
    groups.push(groupId);
    const consumer = kafka.consumer({ groupId });
    const messages: { partition: number; message: KafkaMessage }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          messages.push({ partition, message });
          if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
          if (remaining.size === 0) resolve();
        },
      });
    });
    await consumer.disconnect();
    return messages
      .sort((a, b) => a.partition - b.partition || Number(a.message.offset) - Number(b.message.offset))
      .map(({ message }) => message);
  }

  const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString() ?? '';

  return {
    bus(options = {}) {
      const bus = createEventBus({
        redis,
        kafka: { brokers: kafkaBrokers, topicPartitions: 4, replicationFactor: 1 },
        topicPrefix,
        clientId: `events-test-${randomSuffix()}`,
        log,
        claimIdleMs: 6_000,
        ...options,
      });
      buses.push(bus);
      return bus;
    },
    unreachableBus() {
      const bus = createEventBus({
        redis,
        kafka: { brokers: ['127.0.0.1:1'], topicPartitions: 1, replicationFactor: 1 },
        topicPrefix,
        clientId: `events-test-${randomSuffix()}`,
        log,
      });
      buses.push(bus);
      return bus;
    },
    group(label) {
      const group = `${topicPrefix}${label}`;
      groups.push(group);
      return group;
    },
    async injectRaw(domain, raw) {
      await producer.send({ topic: topicPrefix + topicOf(domain), acks: -1, messages: [{ key: 'org-1', value: raw }] });
    },
    async readLog(domain) {
      return (await readTopic(topicPrefix + topicOf(domain))).map((message) => parseEnvelope(JSON.parse(message.value?.toString() ?? '')));
    },
    async logLength(domain) {
      return (await ends(topicPrefix + topicOf(domain))).reduce((sum, { high, low }) => sum + high - low, 0);
    },
    async deadLetters(domain) {
      return (await readTopic(topicPrefix + deadLetterOf(domain))).map((message) => ({
        raw: message.value?.toString() ?? '',
        reason: header(message, 'dead-letter-reason'),
        deliveries: Number(header(message, 'deliveries')),
      }));
    },
    async unprocessed(domain, group) {
      const topic = topicPrefix + topicOf(domain);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const partitions = await ends(topic);
      return partitions.reduce((sum, { partition, high, low }) => {
        const offset = Number(committed?.partitions.find((entry) => entry.partition === partition)?.offset ?? -1);
        return sum + high - Math.max(offset, low);
      }, 0);
    },
    async cleanup() {
      await Promise.all(buses.map((bus) => bus.close()));
      const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(topicPrefix));
      if (topics.length) await admin.deleteTopics({ topics });
      if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
      await Promise.all([admin.disconnect(), producer.disconnect()]);
      redis.disconnect();
    },
  };
}

const transports: Transport[] = [
  {
    name: 'redis-streams',
    enabled: true,
    claimIdleMs: 300,
    patienceMs: 5_000,
    testTimeoutMs: 30_000,
    boundedByCount: true,
    setup: redisHarness,
  },
  // Kafka hands a silent consumer's partitions over only after its session times out (6 s at least).
  {
    name: 'kafka',
    enabled: kafkaBrokers.length > 0,
    claimIdleMs: 6_000,
    patienceMs: 45_000,
    testTimeoutMs: 150_000,
    boundedByCount: false,
    setup: kafkaHarness,
  },
];

let eventCount = 0;
const usage = (organizationId = 'org-1') =>
  createEvent(
    'usage.recorded',
    `usage-${++eventCount}`,
    {
      organizationId,
      projectId: 'prj-1',
      apiKeyId: 'key-1',
      model: 'gpt-test',
      inputTokens: 10,
      outputTokens: 20,
      latencyMs: 5,
      costUsd: 0.0012,
      unpricedModel: false,
      occurredAt: new Date().toISOString(),
      metadata: { route: 'chat', retried: false },
    },
    { userId: 'user-1' },
  );
const policyChanged = () =>
  createEvent(
    'policy.changed',
    `policy-${++eventCount}`,
    { organizationId: 'org-1', policyId: 'pol-1' },
    { correlationId: 'corr-1', causationId: 'cause-1' },
  );

/** A consumer that is idempotent the way real ones must be: it records each event id once. */
function collector(options: { delayMs?: number } = {}) {
  const byId = new Map<string, EventEnvelope>();
  const deliveries: EventEnvelope[] = [];
  return {
    byId,
    deliveries,
    async handler(events: EventEnvelope[]) {
      if (options.delayMs) await sleep(options.delayMs);
      for (const event of events) {
        deliveries.push(event);
        if (!byId.has(event.id)) byId.set(event.id, event);
      }
    },
  };
}

const idsOf = (events: Iterable<EventEnvelope>) => [...events].map((event) => event.id);

describe.each(transports)('event bus contract: $name', (transport) => {
  describe.skipIf(!transport.enabled)(
    transport.enabled ? 'against a live broker' : 'skipped: no Kafka broker configured (KAFKA_BROKERS unset)',
    { timeout: transport.testTimeoutMs },
    () => {
      let h: Harness;
      const wait = { timeout: transport.patienceMs, interval: 20 };

      beforeEach(async () => {
        h = await transport.setup();
      });
      afterEach(async () => {
        await h.cleanup();
      });

      it('selects the transport', () => {
        expect(h.bus().transport).toBe(transport.name);
      });

      it('delivers every published event exactly as published, in order per domain', async () => {
        const bus = h.bus();
        const published = Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? policyChanged() : usage()));
        await bus.publish(published);
        const seen = collector();
        await bus.consume({ group: h.group('round-trip'), consumer: 'c1', domains: ['usage', 'policy'], handler: seen.handler });

        await vi.waitFor(() => expect(seen.byId.size).toBe(50), wait);
        expect(seen.deliveries).toHaveLength(50);
        expect(published.map((event) => seen.byId.get(event.id))).toEqual(published);
        for (const type of ['usage.recorded', 'policy.changed']) {
          expect(idsOf(seen.deliveries.filter((event) => event.type === type))).toEqual(
            idsOf(published.filter((event) => event.type === type)),
          );
        }
      });

      it('refuses to publish an event whose payload does not validate, writing none of the batch', async () => {
        const bus = h.bus();
        const valid = usage();
        const invalid = { ...usage(), data: { ...usage().data, inputTokens: -1 } };
        await expect(bus.publish([valid, invalid])).rejects.toThrow();
        await expect(bus.publish([{ ...usage(), type: 'usage.unknown' } as unknown as EventEnvelope])).rejects.toThrow(
          /unknown event type/,
        );
        expect(await h.logLength('usage')).toBe(0);
      });

      it('resolves publish only once the broker has the events', async () => {
        const bus = h.bus();
        const published = Array.from({ length: 100 }, () => usage());
        await bus.publish(published);
        expect(await h.logLength('usage')).toBe(100);
        expect(await h.readLog('usage')).toEqual(published);
        await expect(h.unreachableBus().publish([usage()])).rejects.toThrow();
      });

      it('splits a group between its consumers, each event seen once', async () => {
        const bus = h.bus();
        const group = h.group('split');
        const first = collector({ delayMs: 10 });
        const second = collector({ delayMs: 10 });
        await bus.consume({ group, consumer: 'first', domains: ['usage'], batchSize: 10, handler: first.handler });
        await h.bus().consume({ group, consumer: 'second', domains: ['usage'], batchSize: 10, handler: second.handler });
        const published = Array.from({ length: 200 }, (_, i) => usage(`org-${i % 8}`));
        await bus.publish(published);

        await vi.waitFor(() => expect(first.byId.size + second.byId.size).toBe(200), wait);
        expect(first.byId.size).toBeGreaterThan(0);
        expect(second.byId.size).toBeGreaterThan(0);
        expect(idsOf(first.byId.values()).filter((id) => second.byId.has(id))).toEqual([]);
        expect(new Set([...first.byId.keys(), ...second.byId.keys()])).toEqual(new Set(idsOf(published)));
        expect(first.deliveries.length + second.deliveries.length).toBe(200);
      });

      it('hands a crashed consumer’s events to another consumer of the group after claimIdleMs', async () => {
        const group = h.group('crash');
        const published = Array.from({ length: 30 }, () => usage());
        await h.bus().publish(published);

        let release: (reason: Error) => void = () => undefined;
        const hung = new Promise<void>((_, reject) => (release = reject));
        hung.catch(() => undefined);
        const taken: EventEnvelope[] = [];
        const crashed = await h.bus().consume({
          group,
          consumer: 'crashed',
          domains: ['usage'],
          handler: async (events) => {
            taken.push(...events);
            await hung;
          },
        });
        try {
          await vi.waitFor(() => expect(taken.length).toBeGreaterThan(0), wait);
          const startedAt = Date.now();
          const survivor = collector();
          await h.bus().consume({ group, consumer: 'survivor', domains: ['usage'], handler: survivor.handler });

          await vi.waitFor(() => expect(survivor.byId.size).toBe(30), wait);
          expect(Date.now() - startedAt).toBeGreaterThanOrEqual(transport.claimIdleMs / 2);
          expect(new Set(survivor.byId.keys())).toEqual(new Set(idsOf(published)));
          await vi.waitFor(async () => expect(await h.unprocessed('usage', group)).toBe(0), wait);
        } finally {
          release(new Error('the crashed consumer is let go'));
          await crashed.stop();
        }
      });

      it('moves poison messages to the dead-letter stream and processes the others', async () => {
        const bus = h.bus();
        const group = h.group('poison');
        const invalid = usage();
        const poison = [
          'not json',
          JSON.stringify({ ...invalid, data: { ...invalid.data, inputTokens: -5 } }),
          JSON.stringify({ ...usage(), type: 'usage.unknown' }),
        ];
        for (const raw of poison) await h.injectRaw('usage', raw);
        const good = [usage(), usage(), usage()];
        await bus.publish(good);
        const seen = collector();
        await bus.consume({ group, consumer: 'c1', domains: ['usage'], handler: seen.handler });

        await vi.waitFor(async () => expect(await h.deadLetters('usage')).toHaveLength(3), wait);
        await vi.waitFor(() => expect(seen.byId.size).toBe(3), wait);
        const dead = await h.deadLetters('usage');
        expect(dead.map((entry) => entry.raw).sort()).toEqual([...poison].sort());
        for (const entry of dead) {
          expect(entry.reason).not.toBe('');
          // Dead-lettered on first sight, not after a round of redeliveries.
          expect(entry.deliveries).toBe(1);
        }
        expect(dead.find((entry) => entry.raw === poison[2])?.reason).toMatch(/unknown event type/);
        expect(idsOf(seen.deliveries)).toEqual(idsOf(good));
        await vi.waitFor(async () => expect(await h.unprocessed('usage', group)).toBe(0), wait);
      });

      it('dead-letters an event whose handler keeps failing after maxDeliveries, and gets the others through', async () => {
        const bus = h.bus();
        const group = h.group('failing');
        const bad = usage();
        const good = [usage(), usage(), usage(), usage()];
        await bus.publish([good[0]!, good[1]!, bad, good[2]!, good[3]!]);
        let attemptsWithBad = 0;
        const seen = collector();
        await bus.consume({
          group,
          consumer: 'c1',
          domains: ['usage'],
          maxDeliveries: 3,
          handler: async (events) => {
            if (events.some((event) => event.id === bad.id)) {
              attemptsWithBad += 1;
              throw new Error('cannot handle this one');
            }
            await seen.handler(events);
          },
        });

        await vi.waitFor(async () => expect(await h.deadLetters('usage')).toHaveLength(1), { ...wait, timeout: transport.patienceMs * 2 });
        const [dead] = await h.deadLetters('usage');
        expect(parseEnvelope(JSON.parse(dead?.raw ?? '')).id).toBe(bad.id);
        expect(dead?.deliveries).toBe(3);
        expect(dead?.reason).toMatch(/cannot handle this one/);
        expect(attemptsWithBad).toBeGreaterThanOrEqual(3);
        await vi.waitFor(() => expect(seen.byId.size).toBe(4), wait);
        expect(seen.byId.has(bad.id)).toBe(false);
        await vi.waitFor(async () => expect(await h.unprocessed('usage', group)).toBe(0), wait);
        await sleep(transport.claimIdleMs * 2);
        expect(await h.deadLetters('usage')).toHaveLength(1);
      });

      it('keeps an event whose handler fails for a passing reason (an outage) past maxDeliveries, and handles it once the dependency is back', async () => {
        const bus = h.bus();
        const group = h.group('outage');
        const event = usage();
        await bus.publish([event]);
        let failures = 0;
        const seen = collector();
        await bus.consume({
          group,
          consumer: 'c1',
          domains: ['usage'],
          maxDeliveries: 2,
          handler: async (events) => {
            // PostgreSQL down for the first five attempts: more than maxDeliveries.
            if (failures < 5) {
              failures += 1;
              throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
            }
            await seen.handler(events);
          },
        });
        await vi.waitFor(() => expect(seen.byId.has(event.id)).toBe(true), { ...wait, timeout: transport.patienceMs * 3 });
        expect(failures).toBe(5);
        expect(await h.deadLetters('usage')).toEqual([]);
        await vi.waitFor(async () => expect(await h.unprocessed('usage', group)).toBe(0), wait);
      });

      it('delivers a re-published envelope id again (at least once), which an idempotent consumer counts once', async () => {
        const bus = h.bus();
        const event = usage();
        const other = usage();
        await bus.publish([event]);
        await bus.publish([event, other]);
        const seen = collector();
        await bus.consume({ group: h.group('duplicates'), consumer: 'c1', domains: ['usage'], handler: seen.handler });

        await vi.waitFor(() => expect(seen.deliveries).toHaveLength(3), wait);
        expect(seen.deliveries.filter((delivered) => delivered.id === event.id)).toHaveLength(2);
        expect(seen.byId.size).toBe(2);
        expect(seen.byId.get(event.id)).toEqual(event);
      });

      it('lets every tail see the events published after it started, without acks', async () => {
        const bus = h.bus();
        const before = [usage(), policyChanged()];
        await bus.publish(before);
        const first = collector();
        const second = collector();
        await bus.tail({ domains: ['usage', 'policy'], handler: first.handler });
        await h.bus().tail({ domains: ['usage', 'policy'], handler: second.handler });
        const after = [usage(), policyChanged(), usage()];
        await bus.publish(after);

        await vi.waitFor(() => {
          expect(first.byId.size).toBe(3);
          expect(second.byId.size).toBe(3);
        }, wait);
        for (const tail of [first, second]) {
          expect(new Set(tail.byId.keys())).toEqual(new Set(idsOf(after)));
          expect(tail.deliveries).toHaveLength(3);
        }
        // Tailing consumed nothing: a group created now still gets every event.
        const seen = collector();
        await bus.consume({ group: h.group('after-tail'), consumer: 'c1', domains: ['usage', 'policy'], handler: seen.handler });
        await vi.waitFor(() => expect(seen.byId.size).toBe(5), wait);
      });

      it('finishes the batch in hand when a consumer stops', async () => {
        const bus = h.bus();
        const group = h.group('stop');
        await bus.publish(Array.from({ length: 20 }, () => usage()));
        let started: () => void = () => undefined;
        const handling = new Promise<void>((resolve) => (started = resolve));
        const seen = collector();
        const subscription = await bus.consume({
          group,
          consumer: 'c1',
          domains: ['usage'],
          handler: async (events) => {
            started();
            await sleep(300);
            await seen.handler(events);
          },
        });
        await handling;
        await subscription.stop();
        expect(seen.byId.size).toBe(20);
        expect(await h.unprocessed('usage', group)).toBe(0);
      });

      it.skipIf(!transport.boundedByCount)('keeps each stream bounded by maxLength (approximately)', async () => {
        const bus = h.bus({ maxLength: 100 });
        // One event per publish: one entry each, so that the bound in entries is a bound in events.
        for (let i = 0; i < 400; i++) await bus.publish([usage()]);
        const length = await h.logLength('usage');
        expect(length).toBeGreaterThanOrEqual(100);
        // `~` trims whole radix-tree nodes (100 entries each by default), so allow one node of slack and some.
        expect(length).toBeLessThanOrEqual(300);
        const kept = await h.readLog('usage');
        expect(kept.at(-1)?.aggregateId).toBe(`usage-${eventCount}`);
      });
    },
  );
});

// Redis Streams' own layout: events published together share entries of up to packSize events.
describe('Redis Streams packed entries', () => {
  const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}events-packed-${randomSuffix()}:`;
  const redis = createRedis(redisUrl, prefix);
  const buses: EventBus[] = [];
  const bus = () => {
    const created = createEventBus({ redis, clientId: 'events-test', log, claimIdleMs: 300, blockMs: 100 });
    buses.push(created);
    return created;
  };
  const wait = { timeout: 5_000, interval: 20 };
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    const raw = new Redis(redisUrl);
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length) await raw.del(...keys);
    raw.disconnect();
  });
  afterAll(() => redis.disconnect());

  it('trims by entries, never dropping single events for a packed publish', async () => {
    const small = createEventBus({ redis, clientId: 'events-test', log, maxLength: 50 });
    buses.push(small);
    for (let i = 0; i < 40; i++) await small.publish([usage()]);
    await small.publish(Array.from({ length: 100 }, () => usage()));
    // 41 entries are under the cap of 50: all 140 events stay.
    expect((await redis.xrange(topicOf('usage'), '-', '+')).flatMap(([, fields]) => eventsOfEntry(fields))).toHaveLength(140);
  });

  it('writes a batch as entries of up to 100 events and hands them out about batchSize at a time, in order', async () => {
    const published = Array.from({ length: 250 }, () => usage());
    await bus().publish(published);
    const entries = await redis.xrange(topicOf('usage'), '-', '+');
    expect(entries.map(([, fields]) => eventsOfEntry(fields).length)).toEqual([100, 100, 50]);

    const batches: number[] = [];
    const seen = collector();
    await bus().consume({
      group: 'packed',
      consumer: 'c1',
      domains: ['usage'],
      batchSize: 120,
      handler: async (events) => {
        batches.push(events.length);
        return seen.handler(events);
      },
    });
    await vi.waitFor(() => expect(seen.deliveries).toHaveLength(250), wait);
    expect(idsOf(seen.deliveries)).toEqual(idsOf(published));
    // Whole entries: at least batchSize events per call, the last call what is left.
    expect(batches).toEqual([200, 50]);
    await vi.waitFor(async () => expect(((await redis.xpending(topicOf('usage'), 'packed')) as [number])[0]).toBe(0), wait);
  });

  it('counts an outage once per delivery of a packed entry, and starts its delivery count again', async () => {
    const events = [usage(), usage(), usage()];
    await bus().publish(events);
    let calls = 0;
    const seen = collector();
    const consumer = createEventBus({ redis, clientId: 'events-test', log, claimIdleMs: 100, blockMs: 100 });
    buses.push(consumer);
    await consumer.consume({
      group: 'outage',
      consumer: 'c1',
      domains: ['usage'],
      // 40 passing failures allowed. Each redelivery tries the batch, then its first event alone:
      // 60 failing calls are 30 deliveries; counted per event, they would be 90.
      maxDeliveries: 2,
      handler: async (batch) => {
        calls += 1;
        if (calls <= 60) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
        await seen.handler(batch);
      },
    });
    await vi.waitFor(() => expect(seen.byId.size).toBe(3), { timeout: 20_000, interval: 50 });
    expect(await redis.xrange(deadLetterOf('usage'), '-', '+')).toEqual([]);
    await vi.waitFor(async () => expect(((await redis.xpending(topicOf('usage'), 'outage')) as [number])[0]).toBe(0), wait);
  }, 30_000);

  it('dead-letters the one bad event of a packed entry and gets the others through', async () => {
    const good = [usage(), usage()];
    const bad = { ...usage(), data: { inputTokens: -1 } };
    await redis.xadd(topicOf('usage'), '*', 'envelopes', JSON.stringify([good[0], bad, good[1]]));
    const seen = collector();
    await bus().consume({ group: 'poison', consumer: 'c1', domains: ['usage'], handler: seen.handler });
    await vi.waitFor(() => expect(seen.byId.size).toBe(2), wait);
    expect(idsOf(seen.deliveries)).toEqual(idsOf(good));
    const dead = await redis.xrange(deadLetterOf('usage'), '-', '+');
    expect(dead).toHaveLength(1);
    expect(JSON.parse(fieldsOf(dead[0]![1])['envelope'] ?? '').id).toBe(bad.id);
    await vi.waitFor(async () => expect(((await redis.xpending(topicOf('usage'), 'poison')) as [number])[0]).toBe(0), wait);
  });
});
