import type { Redis } from 'ioredis';
import type { ConsumerLag } from '../bus.ts';
import { deadLetterOf, topicOf } from '../events.ts';

/** XINFO GROUPS' entry for `group` on each domain's stream: its lag (Redis 7) and pending count; and its dead-letter stream's length. */
export async function lagOf(redis: Redis, group: string, domains: string[]): Promise<ConsumerLag[]> {
  // ioredis gives XINFO no key position: the key prefix is added here.
  const keyPrefix = redis.options.keyPrefix ?? '';
  return Promise.all(
    domains.map(async (domain) => {
      const [groups, deadLettered] = await Promise.all([
        redis.xinfo('GROUPS', keyPrefix + topicOf(domain)) as Promise<unknown[][]>,
        redis.xlen(deadLetterOf(domain)),
      ]);
      const fields = groups
        .map((entry) => new Map(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])))
        .find((entry) => entry.get('name') === group);
      const number = (value: unknown) => (typeof value === 'number' ? value : null);
      return { domain, group, lag: number(fields?.get('lag')), pending: number(fields?.get('pending')), deadLettered };
    }),
  );
}
