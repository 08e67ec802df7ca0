import type { Sql } from '@mindweave/subgraph-kit';
import { utcTimestamp } from './billing.ts';

/**
 * Folds one UTC day of per-minute rollups into per-day totals per organization. Recomputed whole,
 * so running it again (or after late events) gives the same rows.
 */
export async function rollUpDay(db: Sql, day: string): Promise<{ day: string; organizations: number }> {
  const start = new Date(`${day}T00:00:00.000Z`);
  const end = new Date(start.getTime() + 86_400_000);
  const result = await db.query(
    `INSERT INTO analytics.usage_days ("organizationId", day, requests, "inputTokens", "outputTokens", "costUsd")
     SELECT "organizationId", $1::date, sum(requests), sum("inputTokens"), sum("outputTokens"), sum("costUsd")
     FROM analytics.usage_minutes WHERE bucket >= $2::timestamp AND bucket < $3::timestamp
     GROUP BY "organizationId"
     ON CONFLICT ("organizationId", day) DO UPDATE SET
       requests = EXCLUDED.requests, "inputTokens" = EXCLUDED."inputTokens", "outputTokens" = EXCLUDED."outputTokens", "costUsd" = EXCLUDED."costUsd"`,
    [day, utcTimestamp(start), utcTimestamp(end)],
  );
  return { day, organizations: result.rowCount ?? 0 };
}

export type HourSummary = {
  hour: string;
  organizations: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
};

/** Totals of one UTC hour across organizations, for the operators' hourly summary. */
export async function summarizeHour(db: Sql, hourStart: Date): Promise<HourSummary> {
  const end = new Date(hourStart.getTime() + 3_600_000);
  const { rows } = await db.query<Omit<HourSummary, 'hour'>>(
    `SELECT count(DISTINCT "organizationId")::int AS organizations, coalesce(sum(requests), 0)::float8 AS requests,
            coalesce(sum("inputTokens"), 0)::float8 AS "inputTokens", coalesce(sum("outputTokens"), 0)::float8 AS "outputTokens",
            coalesce(sum("costUsd"), 0)::float8 AS "costUsd"
     FROM analytics.usage_minutes WHERE bucket >= $1::timestamp AND bucket < $2::timestamp`,
    [utcTimestamp(hourStart), utcTimestamp(end)],
  );
  return { hour: hourStart.toISOString(), ...(rows[0] ?? { organizations: 0, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }) };
}
