import { EventEmitter } from 'node:events';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { topicOf, type EventEnvelope } from './events.ts';
import { kafkaClientConfig } from './kafka.ts';
import {
  createBatchProcessor,
  createTailPositions,
  createTailProcessor,
  superviseConsumer,
  type BatchPayload,
  type SupervisedConsumer,
} from './kafka-consumer.ts';
import { ensureTopics, type TopicAdmin } from './kafka-topics.ts';
import { usageEvent as usage } from './fixtures/usage-event.ts';

// No Kafka broker can run on this machine: these tests drive the consumer logic of kafka.ts (its
// eachBatch handlers, topic creation, client settings) directly, with a partition simulated the
// way kafkajs treats one (fetch from the last resolved offset, nothing while paused). The contract
// tests in bus.int.test.ts run the same transport against a real broker when KAFKA_BROKERS is set.
beforeAll(() => {
  console.log(
    'kafka consumer logic: no Kafka broker here, so eachBatch is driven directly with kafkajs-shaped payloads (a simulated partition)',
  );
});

const log = createLogger({ name: 'kafka-test', level: 'silent' });
const topic = topicOf('usage');
const domainOfTopic = new Map([[topic, 'usage']]);

/** One partition as kafkajs serves it to eachBatch: from the last resolved offset, nothing while paused. */
function simulatedPartition(values: string[]) {
  const messages: KafkaMessage[] = values.map((value, offset) => ({
    offset: String(offset),
    value: Buffer.from(value),
    key: Buffer.from('org-1'),
    timestamp: '0',
    attributes: 0,
    headers: {},
  }));
  const state = { next: 0, paused: false, pauses: 0, heartbeats: 0, commits: 0 };
  const payload = (): BatchPayload => ({
    batch: { topic, partition: 0, messages: messages.slice(state.next) },
    resolveOffset: (offset) => void (state.next = Number(offset) + 1),
    heartbeat: async () => void state.heartbeats++,
    pause: () => {
      state.paused = true;
      state.pauses++;
      return () => void (state.paused = false);
    },
    commitOffsetsIfNecessary: async () => void state.commits++,
    isRunning: () => true,
    isStale: () => false,
  });
  return {
    state,
    /** Fetches and processes until every message is resolved, as kafkajs' fetch loop would. */
    async drain(eachBatch: (payload: BatchPayload) => Promise<void>, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (state.next < messages.length) {
        if (Date.now() > deadline) throw new Error(`stuck at offset ${state.next}`);
        if (state.paused) await sleep(2);
        else await eachBatch(payload());
      }
    },
  };
}

function recorder() {
  const deadLetters: { offset: string; reason: string; deliveries: number }[] = [];
  return {
    deadLetters,
    deadLetter: async (_domain: string, _topic: string, _partition: number, message: KafkaMessage, reason: string, deliveries: number) =>
      void deadLetters.push({ offset: message.offset, reason, deliveries }),
  };
}

const processorOf = (
  handler: (events: EventEnvelope[]) => Promise<void>,
  deadLetter: ReturnType<typeof recorder>['deadLetter'],
  heartbeatEveryMs = 1_000,
) =>
  createBatchProcessor({
    handler,
    deadLetter,
    domainOfTopic,
    batchSize: 100,
    maxDeliveries: 3,
    log,
    backoffMs: 5,
    maxBackoffMs: 20,
    heartbeatEveryMs,
  });

describe('Kafka consumer: a failing handler never crashes the consumer', () => {
  it('dead-letters an event whose handler throws a TypeError (kafkajs would crash for good), and the rest get through in order', async () => {
    const events = [usage(), usage(), usage()];
    const poisonId = events[1]!.id;
    const handled: string[] = [];
    const { deadLetters, deadLetter } = recorder();
    const processor = processorOf(async (batch) => {
      if (batch.some((event) => event.id === poisonId)) throw new TypeError("Cannot read properties of undefined (reading 'id')");
      handled.push(...batch.map((event) => event.id));
    }, deadLetter);
    const partition = simulatedPartition(events.map((event) => JSON.stringify(event)));
    await partition.drain(processor.eachBatch);
    expect(handled).toEqual([events[0]!.id, events[2]!.id]);
    expect(deadLetters).toEqual([
      { offset: '1', reason: expect.stringMatching(/handler failed 3 times: Cannot read properties/), deliveries: 3 },
    ]);
    expect(partition.state.pauses).toBe(2);
  });

  it('pauses the partition through a dependency outage instead of rethrowing (no rebalance), and loses nothing', async () => {
    const events = Array.from({ length: 5 }, () => usage());
    const handled = new Map<string, number>();
    let outage = true;
    const { deadLetters, deadLetter } = recorder();
    const processor = processorOf(async (batch) => {
      if (outage) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      for (const event of batch) handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
    }, deadLetter);
    const partition = simulatedPartition(events.map((event) => JSON.stringify(event)));
    setTimeout(() => (outage = false), 150);
    await partition.drain(processor.eachBatch);
    // Far more failures than maxDeliveries (3), none dead-lettered: a passing failure gets 20 times as many.
    expect(partition.state.pauses).toBeGreaterThan(3);
    expect(deadLetters).toEqual([]);
    expect([...handled.keys()]).toEqual(events.map((event) => event.id));
    expect([...handled.values()].every((times) => times === 1)).toBe(true);
    processor.stop();
  });

  it('dead-letters malformed messages once, without calling the handler for them', async () => {
    const good = usage();
    const handled: string[] = [];
    const { deadLetters, deadLetter } = recorder();
    const processor = processorOf(async (batch) => void handled.push(...batch.map((event) => event.id)), deadLetter);
    const partition = simulatedPartition(['{not json', JSON.stringify(good), JSON.stringify({ ...good, type: 'no.such.type' })]);
    await partition.drain(processor.eachBatch);
    expect(handled).toEqual([good.id]);
    expect(deadLetters.map(({ offset, deliveries }) => [offset, deliveries])).toEqual([
      ['0', 1],
      ['2', 1],
    ]);
  });

  it('retries a dead-letter topic that cannot be written instead of skipping the event', async () => {
    let refusals = 2;
    const written: string[] = [];
    const processor = createBatchProcessor({
      handler: async () => undefined,
      deadLetter: async (_d, _t, _p, message) => {
        if (refusals-- > 0) throw Object.assign(new Error('Broker not available'), { type: 'BROKER_NOT_AVAILABLE' });
        written.push(message.offset);
      },
      domainOfTopic,
      batchSize: 100,
      maxDeliveries: 3,
      log,
      backoffMs: 5,
      heartbeatEveryMs: 1_000,
    });
    const partition = simulatedPartition(['garbage', JSON.stringify(usage())]);
    await partition.drain(processor.eachBatch);
    expect(written).toEqual(['0']);
    expect(partition.state.pauses).toBe(2);
  });

  it('keeps heartbeating while a long handler runs', async () => {
    const { deadLetter } = recorder();
    const processor = processorOf(() => sleep(120), deadLetter, 25);
    const partition = simulatedPartition([JSON.stringify(usage())]);
    await partition.drain(processor.eachBatch);
    // At least three during the 120 ms call, then the one after the batch.
    expect(partition.state.heartbeats).toBeGreaterThanOrEqual(4);
  });
});

describe('Kafka consumer supervision', () => {
  /** A kafkajs consumer as far as supervision sees it: its crash and join events, and disconnect(). */
  class FakeConsumer extends EventEmitter implements SupervisedConsumer {
    readonly events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' } as const;
    disconnected = false;
    async disconnect() {
      this.disconnected = true;
    }
    crash(restart: boolean) {
      this.emit(this.events.CRASH, { payload: { error: new Error('GROUP_AUTHORIZATION_FAILED'), restart } });
    }
  }

  it('launches a new consumer after a crash kafkajs will not restart from, and none after stop()', async () => {
    const launched: FakeConsumer[] = [];
    const supervisor = superviseConsumer({
      create: () => new FakeConsumer(),
      launch: async (consumer) => void launched.push(consumer),
      log,
      firstPauseMs: 10,
    });
    await supervisor.start();
    launched[0]!.crash(true);
    await sleep(40);
    expect(launched).toHaveLength(1);
    launched[0]!.crash(false);
    await sleep(40);
    expect(launched).toHaveLength(2);
    await supervisor.stop();
    expect(launched[1]!.disconnected).toBe(true);
    launched[1]!.crash(false);
    await sleep(40);
    expect(launched).toHaveLength(2);
  });
});

describe('Kafka tail (live subscriptions)', () => {
  it('resumes after a restart where it was, not at the latest offset', async () => {
    const positions = createTailPositions();
    positions.startAt(topic, 0, '40');
    positions.startAt(topic, 1, '7');
    const seen: string[] = [];
    const eachBatch = createTailProcessor({
      handler: async (events) => void seen.push(...events.map((event) => event.id)),
      positions,
      log,
    });
    const messages = [usage(), usage()].map((event, i) => ({
      offset: String(40 + i),
      value: Buffer.from(JSON.stringify(event)),
      key: null,
      timestamp: '0',
      attributes: 0,
      headers: {},
    }));
    await eachBatch({ batch: { topic, partition: 0, messages }, heartbeat: async () => undefined, isStale: () => false });
    expect(seen).toHaveLength(2);

    // kafkajs restarts the crashed consumer and the group joins again: every partition is sought back.
    const seeks: { topic: string; partition: number; offset: string }[] = [];
    positions.seekAll({ seek: (position) => void seeks.push(position) });
    expect(seeks).toEqual([
      { topic, partition: 0, offset: '42' },
      { topic, partition: 1, offset: '7' },
    ]);
  });

  it('keeps going past a failing handler (tailed events are not redelivered) and a malformed message', async () => {
    const positions = createTailPositions();
    const eachBatch = createTailProcessor({
      handler: async () => {
        throw new Error('subscriber gone');
      },
      positions,
      log,
    });
    const messages = ['{bad', JSON.stringify(usage())].map((value, i) => ({
      offset: String(i),
      value: Buffer.from(value),
      key: null,
      timestamp: '0',
      attributes: 0,
      headers: {},
    }));
    await eachBatch({ batch: { topic, partition: 3, messages }, heartbeat: async () => undefined, isStale: () => false });
    const seeks: string[] = [];
    positions.seekAll({ seek: ({ offset }) => void seeks.push(offset) });
    expect(seeks).toEqual(['2']);
  });
});

describe('Kafka topics', () => {
  function admin(existing: string[], createError?: unknown) {
    const created: { topic: string; numPartitions?: number; replicationFactor?: number }[] = [];
    const fake: TopicAdmin = {
      listTopics: async () => existing,
      createTopics: async ({ topics }) => {
        if (createError) throw createError;
        created.push(...topics);
        return true;
      },
    };
    return { fake, created };
  }
  const layout = { topicPartitions: 12, replicationFactor: 3 };

  it('creates only missing topics, with the configured partitions and replication', async () => {
    const { fake, created } = admin(['a']);
    await ensureTopics(fake, ['a', 'b'], layout, log);
    expect(created).toEqual([{ topic: 'b', numPartitions: 12, replicationFactor: 3 }]);
  });

  it('does not fail publishing when the account may not create or list topics', async () => {
    const refused = Object.assign(new Error('Not authorized'), { type: 'TOPIC_AUTHORIZATION_FAILED' });
    await expect(
      ensureTopics(admin([], { name: 'KafkaJSAggregateError', errors: [refused] }).fake, ['a'], layout, log),
    ).resolves.toBeUndefined();
    const cannotList: TopicAdmin = {
      listTopics: async () => Promise.reject(Object.assign(new Error('denied'), { type: 'CLUSTER_AUTHORIZATION_FAILED' })),
      createTopics: async () => true,
    };
    await expect(ensureTopics(cannotList, ['a'], layout, log)).resolves.toBeUndefined();
  });

  it('explains a replication factor the cluster cannot hold, and rethrows other failures', async () => {
    const tooMany = Object.assign(new Error('Replication factor: 3 larger than available brokers: 1'), {
      type: 'INVALID_REPLICATION_FACTOR',
    });
    await expect(ensureTopics(admin([], tooMany).fake, ['a'], layout, log)).rejects.toThrow(/KAFKA_REPLICATION_FACTOR/);
    await expect(ensureTopics(admin([], new Error('Broker not available')).fake, ['a'], layout, log)).rejects.toThrow(
      'Broker not available',
    );
  });
});

describe('Kafka client settings', () => {
  it('carry TLS with a CA and SASL to kafkajs', () => {
    const config = kafkaClientConfig(
      {
        brokers: ['k:9093'],
        ssl: { ca: 'PEM' },
        sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
        topicPartitions: 6,
        replicationFactor: 3,
      },
      'svc',
      log,
    );
    expect(config).toMatchObject({
      clientId: 'svc',
      brokers: ['k:9093'],
      ssl: { ca: ['PEM'] },
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
    });
    const plain = kafkaClientConfig({ brokers: ['k:9092'], topicPartitions: 6, replicationFactor: 1 }, 'svc', log);
    expect(plain.ssl).toBeUndefined();
    expect(plain.sasl).toBeUndefined();
  });
});

describe('loading kafkajs', () => {
  // In a process of its own, as a service imports the bus: kafkajs is CommonJS, so Node's require
  // cache shows whether it was loaded.
  const loadedKafkaJs = (kafka: boolean) => {
    const script = `
      const { Redis } = await import('ioredis');
      const { createEventBus } = await import('@mindweave/events');
      const { createLogger } = await import('@mindweave/service-kit');
      const bus = createEventBus({
        redis: new Redis({ lazyConnect: true }),
        ${kafka ? "kafka: { brokers: ['127.0.0.1:1'], topicPartitions: 1, replicationFactor: 1 }," : ''}
        clientId: 'loading-test',
        log: createLogger({ name: 'loading-test', level: 'silent' }),
      });
      const { createRequire } = await import('node:module');
      const cache = createRequire(import.meta.url).cache;
      console.log(Object.keys(cache).some((path) => path.includes('/kafkajs/')));
      await bus.close();
    `;
    const output = execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    });
    return output.trim().split('\n').at(-1);
  };

  it('happens only in a process that is given a Kafka cluster', () => {
    expect(loadedKafkaJs(false)).toBe('false');
    expect(loadedKafkaJs(true)).toBe('true');
  }, 30_000);
});
