import { createRedis } from '@mindweave/service-kit';
import { env } from './env.ts';

export const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
