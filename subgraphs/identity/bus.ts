import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger, kafkaSettingsOf } from '@mindweave/service-kit';
import { env } from './env.ts';
import { redis } from './redis.ts';

export const bus = createEventBus({
  redis,
  kafka: kafkaSettingsOf(env),
  clientId: `identity-${hostname()}-${process.pid}`,
  log: createLogger({ name: 'identity-events', level: env.LOG_LEVEL }),
});
