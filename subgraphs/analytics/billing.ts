import type { Sql } from '@mindweave/subgraph-kit';

/** Timestamps here are UTC without a time zone (timestamp(3)): pass them as such, whatever the server's zone. */
export const utcTimestamp = (date: Date) => date.toISOString().replace('T', ' ').replace('Z', '');

/** The calendar month before `now`'s, in UTC, as YYYY-MM. */
export function previousMonth(now = new Date()): string {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return first.toISOString().slice(0, 7);
}

export function monthRange(month: string): { start: Date; end: Date } {
  const [year, index] = month.split('-').map(Number) as [number, number];
  return { start: new Date(Date.UTC(year, index - 1, 1)), end: new Date(Date.UTC(year, index, 1)) };
}

/**
 * Turns each organization's usage of `month` (from the per-minute rollups) into its invoice. Run
 * twice, it creates nothing the second time: one invoice per organization and month (unique
 * constraint, ON CONFLICT DO NOTHING). Organizations without usage that month get none.
 */
export async function closeBillingMonth(db: Sql, month: string): Promise<{ month: string; created: number }> {
  const { start, end } = monthRange(month);
  const result = await db.query(
    `INSERT INTO analytics.invoices ("organizationId", month, "periodStart", "periodEnd", requests, "inputTokens", "outputTokens", "costUsd")
     SELECT "organizationId", $1, $2::timestamp, $3::timestamp, sum(requests), sum("inputTokens"), sum("outputTokens"), round(sum("costUsd")::numeric, 6)::float8
     FROM analytics.usage_minutes WHERE bucket >= $2::timestamp AND bucket < $3::timestamp
     GROUP BY "organizationId"
     ON CONFLICT ("organizationId", month) DO NOTHING`,
    [month, utcTimestamp(start), utcTimestamp(end)],
  );
  return { month, created: result.rowCount ?? 0 };
}
