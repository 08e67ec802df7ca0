import { hostname } from 'node:os';
import { createEventBus } from '@mindweave/events';
import { createLogger, createRedis, kafkaSettingsOf, onShutdown } from '@mindweave/service-kit';
import { loadRouterEnv } from './env.ts';
import { startRouter } from './server.ts';

const env = loadRouterEnv();
const log = createLogger({ name: 'router', level: env.LOG_LEVEL });
const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `router-${hostname()}-${process.pid}`, log });
const router = await startRouter({ env, log, redis, bus });

onShutdown(log, async () => {
  await router.close();
  await bus.close();
  await redis.quit();
});
