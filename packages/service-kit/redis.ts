import { Redis } from 'ioredis';

/**
 * A Redis client whose commands fail within a second while Redis is down instead of waiting for
 * it, so an outage degrades the features that need Redis rather than hanging requests.
 */
export function createRedis(url: string, keyPrefix = ''): Redis {
  return new Redis(url, {
    keyPrefix,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}
