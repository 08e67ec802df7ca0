import { createLogger, createRedis, onShutdown } from '@mindweave/service-kit';
import { loadRouterEnv } from './env.ts';
import { startRouter } from './server.ts';

const env = loadRouterEnv();
const log = createLogger({ name: 'router', level: env.LOG_LEVEL });
const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
const router = await startRouter({ env, log, redis });

onShutdown(log, async () => {
  await router.close();
  await redis.quit();
});
