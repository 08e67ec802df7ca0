import type { Redis } from 'ioredis';
import { readEndedSessions, recordEndedSessions, type Logger } from '@mindweave/service-kit';

/**
 * Sessions ended before their access tokens expired (logout, a password reset, a reused refresh
 * token), refused at the cost of one map lookup per request: no database or Redis call on the
 * request path. The set lives in this router's memory, fed by `user.session_ended` events
 * (router/access-events.ts) and loaded from Redis at start and every minute (what identity records
 * there as it ends sessions), so a router that starts later, or missed an event, knows them too.
 * An entry is kept until the last access token of its session expires.
 *
 * When Redis is down, what is known stays in force; a session ended during the outage is refused
 * once the event arrives (identity's outbox holds it until then), at the latest when its access
 * tokens expire (ACCESS_TOKEN_TTL_SECONDS). Refusing every token while Redis is down would sign
 * everyone out; letting the ended sessions' tokens live out their short lifetime is the lesser harm.
 */
export function createSessionRevocations(options: { redis: Redis; log: Logger; reloadMs?: number }) {
  const { redis, log } = options;
  const ended = new Map<string, number>();

  function add(sessionIds: Iterable<string>, untilMs: number) {
    for (const id of sessionIds) ended.set(id, Math.max(untilMs, ended.get(id) ?? 0));
  }

  async function reload() {
    const now = Date.now();
    for (const [id, until] of ended) if (until <= now) ended.delete(id);
    try {
      const stored = await readEndedSessions(redis, now);
      for (const [id, until] of stored) add([id], until);
    } catch (error) {
      log.warn({ err: error }, 'ended sessions not reloaded from Redis; keeping what is known');
    }
  }

  const loaded = reload();
  const timer = setInterval(() => void reload(), options.reloadMs ?? 60_000);
  timer.unref();

  return {
    /** Resolves once the first load from Redis was tried. */
    loaded,
    isEnded(sessionId: string): boolean {
      const until = ended.get(sessionId);
      return until !== undefined && until > Date.now();
    },
    /** From an event: refused from now on, here at once, and recorded in Redis for routers that start later. */
    end(sessionIds: string[], untilMs: number) {
      add(sessionIds, untilMs);
      if (redis.status === 'ready') void recordEndedSessions(redis, sessionIds, untilMs).catch(() => undefined);
    },
    close: () => clearInterval(timer),
  };
}

export type SessionRevocations = ReturnType<typeof createSessionRevocations>;
