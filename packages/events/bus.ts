import type { EventEnvelope } from './events.ts';

/** A consumer's handler gets events in batches; throwing fails the whole batch (it is redelivered). */
export type BatchHandler = (events: EventEnvelope[]) => Promise<void>;

export interface ConsumeOptions {
  /** Consumer group: each event goes to one consumer of the group (at least once). */
  group: string;
  /** This consumer's name within the group (host + pid, say); a crashed one's messages are reclaimed by others. */
  consumer: string;
  /** Domains to consume, e.g. ['usage']. */
  domains: string[];
  handler: BatchHandler;
  batchSize?: number;
  /** After this many failed deliveries a message goes to the dead-letter stream/topic. */
  maxDeliveries?: number;
}

export interface TailOptions {
  domains: string[];
  /** Every instance that tails sees every event from now on (fan-out, no group, no acks). */
  handler: BatchHandler;
}

export interface Subscription {
  stop(): Promise<void>;
}

/** How far one consumer group is behind on one stream (Redis) or topic (Kafka). */
export interface ConsumerLag {
  domain: string;
  group: string;
  /** Events (Redis: stream entries, each of up to 100 events) not yet delivered to the group; null when the log cannot tell. */
  lag: number | null;
  /** Delivered and not yet acknowledged (Redis Streams only). */
  pending: number | null;
  /** In the domain's dead-letter stream or topic; null when the log cannot tell. */
  deadLettered: number | null;
}

export interface ConsumerSubscription extends Subscription {
  /** For health routes and metrics: the group's lag on each of its domains. */
  lag(): Promise<ConsumerLag[]>;
}

/** One interface over two transports: Redis Streams (default) and Kafka (when KAFKA_BROKERS is set). */
export interface EventBus {
  readonly transport: 'redis-streams' | 'kafka';
  /** Resolves once every event is durably in the log. */
  publish(events: EventEnvelope[]): Promise<void>;
  consume(options: ConsumeOptions): Promise<ConsumerSubscription>;
  tail(options: TailOptions): Promise<Subscription>;
  close(): Promise<void>;
}
