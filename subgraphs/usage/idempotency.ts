import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

// Idempotency keys of usage events. A key is claimed as `pending` before its event is appended and
// marked `recorded` only once the event log acknowledged the append, so `recorded` always means
// "its event is in the log". A key found `pending` (its attempt failed, was not answered, or is
// still under way) is appended again under the same event id, which every consumer deduplicates;
// only a `recorded` key is answered as a duplicate. Nothing is released on failure: a claim left
// pending is what makes the client's retry append the event.

/** What a claim found: the key was new, was claimed by an attempt not known to have reached the log, or its event is in the log. */
export type ClaimState = 'new' | 'pending' | 'recorded';

const pending = 'pending';
const recorded = 'recorded';

/** One Redis key per API key and idempotency key (hashed: idempotency keys are the client's text). */
export const claimKeyOf = (apiKeyId: string, idempotencyKey: string) =>
  `idem:${apiKeyId}:${createHash('sha256').update(idempotencyKey).digest('base64url')}`;

/** The same key always yields the same event id, so that appending it again is deduplicated downstream. */
export function eventIdOf(apiKeyId: string, idempotencyKey: string) {
  const hex = createHash('sha256').update(`${apiKeyId}\n${idempotencyKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Claims each key (`SET NX GET`, Redis 7 or later: one command per key) and reports what it found.
 * Throws when Redis does not answer every claim: then nothing can be told apart and the request
 * must be retried.
 */
export async function claim(redis: Redis, keys: string[], ttlSeconds: number): Promise<ClaimState[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.set(key, pending, 'EX', ttlSeconds, 'NX', 'GET');
  const replies = (await pipeline.exec()) ?? [];
  if (replies.length !== keys.length) throw new Error('Redis did not answer every idempotency claim');
  return replies.map(([error, previous]) => {
    if (error) throw error;
    // Anything but `recorded` is not proof that the log holds the event: appending it again costs a
    // duplicate the consumers drop. (The version before claims had states wrote '1' before appending.)
    return previous === null ? 'new' : previous === recorded ? 'recorded' : 'pending';
  });
}

/** Marks the keys of events the log acknowledged; their TTL runs from the first claim. */
export async function markRecorded(redis: Redis, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.set(key, recorded, 'KEEPTTL', 'XX');
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
}

/** Forgets claims whose events were refused (by a policy), so that a later request decides them afresh. */
export async function forget(redis: Redis, keys: string[]): Promise<void> {
  if (keys.length) await redis.del(...keys);
}
