import type { Redis } from 'ioredis';

// Sessions (sign-ins: refresh-token families) that were ended before their access tokens expired,
// shared through Redis: identity records them as it ends them, every router reads them once at
// start and is told of new ones by `user.session_ended` events. A sorted set scored by when the
// last access token of the session expires; past that, nothing is left to refuse.

const endedSessionsKey = 'sessions:ended';

/** Records `sessionIds` as ended until `untilMs`, and drops the entries nothing can use any more. */
export async function recordEndedSessions(redis: Redis, sessionIds: string[], untilMs: number, now = Date.now()) {
  if (sessionIds.length === 0) return;
  await redis
    .multi()
    .zadd(endedSessionsKey, ...sessionIds.flatMap((id) => [untilMs, id]))
    .zremrangebyscore(endedSessionsKey, '-inf', now)
    .exec();
}

/** Every session ended whose access tokens may still be presented, with when they all expire. */
export async function readEndedSessions(redis: Redis, now = Date.now()): Promise<Map<string, number>> {
  const flat = await redis.zrangebyscore(endedSessionsKey, now, '+inf', 'WITHSCORES');
  const ended = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) ended.set(flat[i]!, Number(flat[i + 1]));
  return ended;
}
