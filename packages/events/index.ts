import type { Redis } from 'ioredis';
import type { KafkaSettings, Logger } from '@mindweave/service-kit';
import type { EventBus } from './bus.ts';
import { createKafkaBus } from './kafka.ts';
import { createRedisStreamsBus } from './redis-streams.ts';
import { tracedHandler } from './tracing.ts';
import { tracingEnabled } from '@mindweave/telemetry';

export { eventsOfEntry } from './redis-streams.ts';
export { keepTailing } from './keep-tailing.ts';
export { observeConsumerLag } from './metrics.ts';

export {
  createEvent,
  deadLetterOf,
  domainOf,
  eventSchemas,
  organizationOf,
  parseEnvelope,
  topicOf,
  usersWhoseMembershipsChanged,
  type EventData,
  type EventEnvelope,
  type EventMetadata,
  type EventType,
} from './events.ts';
export type { BatchHandler, ConsumeOptions, ConsumerLag, ConsumerSubscription, EventBus, Subscription, TailOptions } from './bus.ts';

export interface EventBusOptions {
  /** An ioredis client, already key-prefixed; the Redis Streams transport's log. */
  redis: Redis;
  /** Set: Kafka carries the events instead of Redis Streams. */
  kafka?: KafkaSettings;
  clientId: string;
  log: Logger;
  /** Redis Streams: approximate cap on each stream's entries, each of up to 100 events (default 100,000). */
  maxLength?: number;
  /** How long a consumer may go silent before its events are handed to another one of its group (default 30 s). */
  claimIdleMs?: number;
  /** Redis Streams: how long one blocking read waits (default 1 s); stop() returns within about this. */
  blockMs?: number;
  /** Kafka: prepended to every topic name, to keep environments sharing a cluster apart. */
  topicPrefix?: string;
}

export function createEventBus(options: EventBusOptions): EventBus {
  const { kafka, clientId, log, claimIdleMs } = options;
  const bus = kafka
    ? createKafkaBus({ settings: kafka, clientId, log, claimIdleMs, topicPrefix: options.topicPrefix })
    : createRedisStreamsBus(options);
  if (!tracingEnabled()) return bus;
  // A consumer's spans join the trace of the operation whose events it handles (tracing.ts).
  const transport = kafka ? 'kafka' : 'redis';
  return {
    get transport() {
      return bus.transport;
    },
    publish: (events) => bus.publish(events),
    consume: (consumeOptions) => bus.consume({ ...consumeOptions, handler: tracedHandler(consumeOptions, transport) }),
    tail: (tailOptions) => bus.tail(tailOptions),
    close: () => bus.close(),
  };
}
