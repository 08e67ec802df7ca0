import type { EventEnvelope } from '@mindweave/events';
import type pg from 'pg';
import { monthOf, type PersistedMonth } from '@mindweave/usage-totals';

// The consumer's one hot statement goes straight to pg: through Prisma's raw query path its twelve
// array parameters cost the consumer about a third of its CPU (Prisma's argument mapping on top of
// pg's array literals). Arrays rather than one JSON parameter: json_to_recordset took PostgreSQL
// 60% longer per batch than unnest (measured with 1,000-row batches), which the shared CPU pays too.

const persistStatement = `
  WITH incoming AS (
    SELECT * FROM unnest(
      $1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[], $7::int[], $8::int[], $9::float8[], $10::bool[], $11::timestamptz[], $12::jsonb[]
    ) AS t(id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
  ), inserted AS (
    INSERT INTO usage_events (id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
    SELECT id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt" AT TIME ZONE 'UTC', metadata FROM incoming
    ON CONFLICT (id) DO NOTHING
    RETURNING "organizationId", "projectId", model, "occurredAt", "inputTokens", "outputTokens", "costUsd"
  ), months AS (
    INSERT INTO usage_months ("organizationId", month, tokens, "microUsd")
    SELECT "organizationId", to_char("occurredAt", 'YYYY-MM'), sum("inputTokens" + "outputTokens"), sum(round("costUsd" * 1000000)::bigint)
    FROM inserted GROUP BY 1, 2
    ON CONFLICT ("organizationId", month) DO UPDATE SET
      tokens = usage_months.tokens + EXCLUDED.tokens,
      "microUsd" = usage_months."microUsd" + EXCLUDED."microUsd"
  )
  INSERT INTO usage_minutes ("organizationId", bucket, "projectId", model, requests, "inputTokens", "outputTokens", "costUsd")
  SELECT "organizationId", date_trunc('minute', "occurredAt"), "projectId", model, count(*), sum("inputTokens"), sum("outputTokens"), sum("costUsd")
  FROM inserted GROUP BY 1, 2, 3, 4
  ON CONFLICT ("organizationId", bucket, "projectId", model) DO UPDATE SET
    requests = usage_minutes.requests + EXCLUDED.requests,
    "inputTokens" = usage_minutes."inputTokens" + EXCLUDED."inputTokens",
    "outputTokens" = usage_minutes."outputTokens" + EXCLUDED."outputTokens",
    "costUsd" = usage_minutes."costUsd" + EXCLUDED."costUsd"`;

const monthTotalsStatement = `
  SELECT "organizationId", month, tokens, "microUsd" FROM usage_months
  WHERE ("organizationId", month) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`;

/**
 * Writes a batch of usage events and folds them into the per-minute rollups and the month totals
 * in one statement. Only events inserted now (not seen before: ON CONFLICT on the event id) reach
 * the totals, so a redelivered batch counts once. Resolves to the month totals of every
 * organization and month the batch touched, as PostgreSQL holds them now, with the batch's events
 * of each (new or not), for the month-to-date totals in Redis (settlePersisted).
 */
export async function persistUsage(pool: pg.Pool, events: EventEnvelope[]): Promise<PersistedMonth[]> {
  const usage = events.filter((e): e is EventEnvelope<'usage.recorded'> => e.type === 'usage.recorded');
  if (!usage.length) return [];
  const column = <T>(pick: (e: EventEnvelope<'usage.recorded'>) => T) => usage.map(pick);
  await pool.query(persistStatement, [
    column((e) => e.id),
    column((e) => e.data.organizationId),
    column((e) => e.data.projectId),
    column((e) => e.data.apiKeyId),
    column((e) => e.data.model),
    column((e) => e.data.inputTokens),
    column((e) => e.data.outputTokens),
    column((e) => e.data.latencyMs),
    column((e) => e.data.costUsd),
    column((e) => e.data.unpricedModel),
    column((e) => e.data.occurredAt),
    column((e) => (e.data.metadata ? JSON.stringify(e.data.metadata) : null)),
  ]);
  const months = new Map<string, PersistedMonth>();
  for (const event of usage) {
    const month = monthOf(new Date(event.data.occurredAt));
    const key = `${event.data.organizationId}|${month}`;
    const entry = months.get(key) ?? { organizationId: event.data.organizationId, month, tokens: 0, microUsd: 0, eventIds: [] };
    entry.eventIds.push(event.id);
    months.set(key, entry);
  }
  const list = [...months.values()];
  const totals = await pool.query<{ organizationId: string; month: string; tokens: string; microUsd: string }>(monthTotalsStatement, [
    list.map((m) => m.organizationId),
    list.map((m) => m.month),
  ]);
  for (const row of totals.rows) {
    const entry = months.get(`${row.organizationId}|${row.month}`);
    if (entry) Object.assign(entry, { tokens: Number(row.tokens), microUsd: Number(row.microUsd) });
  }
  return list;
}

/** Every organization's totals of the given months, for copying them to Redis at start-up. */
export async function monthTotals(pool: pg.Pool, months: string[]): Promise<PersistedMonth[]> {
  const result = await pool.query<{ organizationId: string; month: string; tokens: string; microUsd: string }>(
    'SELECT "organizationId", month, tokens, "microUsd" FROM usage_months WHERE month = ANY($1::text[])',
    [months],
  );
  return result.rows.map((row) => ({
    organizationId: row.organizationId,
    month: row.month,
    tokens: Number(row.tokens),
    microUsd: Number(row.microUsd),
    eventIds: [],
  }));
}
