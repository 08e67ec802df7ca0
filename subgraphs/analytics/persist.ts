import type { EventEnvelope } from '@mindweave/events';
import { prisma } from './db.ts';

/**
 * Writes a batch of usage events and folds them into the per-minute rollups in one statement.
 * Only events inserted now (not seen before: ON CONFLICT on the event id) reach the rollups, so a
 * redelivered batch counts once.
 */
export async function persistUsage(events: EventEnvelope[]): Promise<number> {
  const usage = events.filter((e): e is EventEnvelope<'usage.recorded'> => e.type === 'usage.recorded');
  if (!usage.length) return 0;
  const column = <T>(pick: (e: EventEnvelope<'usage.recorded'>) => T) => usage.map(pick);
  return prisma.$executeRaw`
    WITH incoming AS (
      SELECT * FROM unnest(
        ${column((e) => e.id)}::uuid[], ${column((e) => e.data.organizationId)}::uuid[], ${column((e) => e.data.projectId)}::uuid[],
        ${column((e) => e.data.apiKeyId)}::uuid[], ${column((e) => e.data.model)}::text[], ${column((e) => e.data.inputTokens)}::int[],
        ${column((e) => e.data.outputTokens)}::int[], ${column((e) => e.data.latencyMs)}::int[], ${column((e) => e.data.costUsd)}::float8[],
        ${column((e) => e.data.unpricedModel)}::bool[], ${column((e) => e.data.occurredAt)}::timestamptz[],
        ${column((e) => (e.data.metadata ? JSON.stringify(e.data.metadata) : null))}::jsonb[]
      ) AS t(id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
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
}
