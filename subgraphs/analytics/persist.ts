import pg from 'pg';
import type { EventEnvelope } from '@mindweave/events';
import { dbSchema } from './db.ts';
import { env } from './env.ts';

// The consumer's one hot statement goes straight to pg with the batch as a single JSON parameter:
// through Prisma's raw query path, twelve array parameters cost the consumer about a third of its CPU
// (escaping each array element into a Postgres array literal, then Prisma's argument mapping).
export const persistPool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2, options: `-c search_path=${dbSchema}` });

const persistStatement = `
  WITH incoming AS (
    SELECT * FROM json_to_recordset($1::json) AS t(
      id uuid, "organizationId" uuid, "projectId" uuid, "apiKeyId" uuid, model text, "inputTokens" int, "outputTokens" int,
      "latencyMs" int, "costUsd" float8, "unpricedModel" bool, "occurredAt" timestamptz, metadata jsonb)
  ), inserted AS (
    INSERT INTO usage_events (id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
    SELECT id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt" AT TIME ZONE 'UTC', metadata FROM incoming
    ON CONFLICT (id) DO NOTHING
    RETURNING "organizationId", "projectId", model, "occurredAt", "inputTokens", "outputTokens", "costUsd"
  )
  INSERT INTO usage_minutes ("organizationId", bucket, "projectId", model, requests, "inputTokens", "outputTokens", "costUsd")
  SELECT "organizationId", date_trunc('minute', "occurredAt"), "projectId", model, count(*), sum("inputTokens"), sum("outputTokens"), sum("costUsd")
  FROM inserted GROUP BY 1, 2, 3, 4
  ON CONFLICT ("organizationId", bucket, "projectId", model) DO UPDATE SET
    requests = usage_minutes.requests + EXCLUDED.requests,
    "inputTokens" = usage_minutes."inputTokens" + EXCLUDED."inputTokens",
    "outputTokens" = usage_minutes."outputTokens" + EXCLUDED."outputTokens",
    "costUsd" = usage_minutes."costUsd" + EXCLUDED."costUsd"`;

/**
 * Writes a batch of usage events and folds them into the per-minute rollups in one statement.
 * Only events inserted now (not seen before: ON CONFLICT on the event id) reach the rollups, so a
 * redelivered batch counts once. Resolves to the number of rollup rows written.
 */
export async function persistUsage(events: EventEnvelope[]): Promise<number> {
  const usage = events.filter((e): e is EventEnvelope<'usage.recorded'> => e.type === 'usage.recorded');
  if (!usage.length) return 0;
  const rows = JSON.stringify(usage.map((e) => ({ id: e.id, ...e.data })));
  const result = await persistPool.query(persistStatement, [rows]);
  return result.rowCount ?? 0;
}
