import { Redis } from 'ioredis';
import { createLogger } from '@mindweave/service-kit';
import { createRateLimiter } from './rate-limit.ts';

/**
 * A rate limiter whose Redis never connects: it holds its windows in this process, as it does
 * while Redis is unreachable, with the same algorithm. For the edge units' tests.
 */
export function inMemoryLimiter() {
  const redis = new Redis({ port: 1, lazyConnect: true });
  return { limiter: createRateLimiter(redis, createLogger({ name: 'edge-test', level: 'silent' })), close: () => redis.disconnect() };
}
