import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger } from '@mindweave/service-kit';
import { env } from './env.ts';
import { redis } from './redis.ts';

export const bus = createEventBus({ redis, kafkaBrokers: env.KAFKA_BROKERS, clientId: `accounts-${hostname()}-${process.pid}`, log: createLogger({ name: 'accounts-events', level: env.LOG_LEVEL }) });
