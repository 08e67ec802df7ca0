import type { Redis } from 'ioredis';
import type pg from 'pg';
import { monthOf, monthToDate } from '@mindweave/usage-totals';
import { eventIdOf } from '../subgraphs/usage/idempotency.ts';
import { sleep } from '../scripts/private-services.ts';
import type { SentBatch } from './load.ts';

// What the fault suite checks after each fault, by event id: the idempotency key of every event a
// receipt accounted for (accepted, or a duplicate of an attempt that had recorded it) names an
// event that PostgreSQL holds once, and every total counts it once (this month's tokens: the
// events occur now, and the totals are per month).

export interface Outcome {
  /** Events of the batches that got a receipt. */
  accepted: number;
  /** Of those, in PostgreSQL. */
  persisted: number;
  /** Keys answered as duplicates: recorded by an attempt whose answer was lost. */
  duplicates: number;
  /** Batches that failed at least once before their receipt. */
  retried: number;
  /** Batches the SDK gave up on. */
  gaveUp: number;
  lost: number;
  /** How far the rollups (events) and the month totals in PostgreSQL and Redis (tokens) are from one count per stored event, plus stored events nobody sent. */
  miscounted: number;
  detail: string;
}

export async function verify(options: {
  db: pg.Pool;
  redis: Redis;
  organizationId: string;
  apiKeyId: string;
  batches: SentBatch[];
  probeKeys: string[];
  patienceMs: number;
}): Promise<Outcome> {
  const { db, redis, organizationId, apiKeyId, batches } = options;
  const idOf = (key: string) => eventIdOf(apiKeyId, key);
  const answered = batches.filter((batch) => batch.receipt);
  const expected = new Set([...answered.flatMap((batch) => batch.keys.map(idOf)), ...options.probeKeys.map(idOf)]);
  const unanswered = new Set(batches.filter((batch) => !batch.receipt).flatMap((batch) => batch.keys.map(idOf)));
  const deadline = Date.now() + options.patienceMs;

  const persistedIds = async () =>
    new Set(
      (
        await db.query<{ id: string }>('SELECT id::text FROM analytics.usage_events WHERE "organizationId" = $1', [organizationId])
      ).rows.map((row) => row.id),
    );
  let persisted = await persistedIds();
  while ([...expected].some((id) => !persisted.has(id)) && Date.now() < deadline) {
    await sleep(500);
    persisted = await persistedIds();
  }

  const month = monthOf(new Date());
  const totals = async () => {
    const [events, minutes, months] = await Promise.all([
      db.query<{ n: string; tokens: string }>(
        `SELECT count(*) AS n, coalesce(sum("inputTokens" + "outputTokens") FILTER (WHERE to_char("occurredAt", 'YYYY-MM') = $2), 0) AS tokens FROM analytics.usage_events WHERE "organizationId" = $1`,
        [organizationId, month],
      ),
      db.query<{ n: string }>('SELECT coalesce(sum(requests), 0) AS n FROM analytics.usage_minutes WHERE "organizationId" = $1', [
        organizationId,
      ]),
      db.query<{ tokens: string }>(
        'SELECT coalesce(sum(tokens), 0) AS tokens FROM analytics.usage_months WHERE "organizationId" = $1 AND month = $2',
        [organizationId, month],
      ),
    ]);
    return {
      events: Number(events.rows[0]!.n),
      eventTokens: Number(events.rows[0]!.tokens),
      rollupRequests: Number(minutes.rows[0]!.n),
      monthTokens: Number(months.rows[0]!.tokens),
      redisTokens: (await monthToDate(redis, organizationId, month)).tokens,
    };
  };
  // Redis' month totals settle as the consumer persists: the same patience.
  let counted = await totals();
  while ((counted.redisTokens !== counted.eventTokens || counted.monthTokens !== counted.eventTokens) && Date.now() < deadline) {
    await sleep(500);
    counted = await totals();
  }

  const lost = [...expected].filter((id) => !persisted.has(id)).length;
  const unsent = [...persisted].filter((id) => !expected.has(id) && !unanswered.has(id)).length;
  const miscounted =
    Math.abs(counted.rollupRequests - counted.events) +
    Math.abs(counted.monthTokens - counted.eventTokens) +
    Math.abs(counted.redisTokens - counted.eventTokens) +
    unsent;
  const accepted = answered.reduce((n, batch) => n + batch.keys.length, 0);
  return {
    accepted,
    persisted: answered.reduce((n, batch) => n + batch.keys.filter((key) => persisted.has(idOf(key))).length, 0),
    duplicates: answered.reduce((n, batch) => n + (batch.receipt?.duplicates ?? 0), 0),
    retried: answered.filter((batch) => batch.failedAttempts > 0).length,
    gaveUp: batches.length - answered.length,
    lost,
    miscounted,
    detail: miscounted
      ? `events ${counted.events} (rollups ${counted.rollupRequests}), this month's tokens: events ${counted.eventTokens}, PostgreSQL ${counted.monthTokens}, Redis ${counted.redisTokens}; ${unsent} unsent`
      : '',
  };
}
