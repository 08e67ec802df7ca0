import type { Sql } from '@mindweave/subgraph-kit';

// The workers' side of a deleted organization's retention: analytics owns these tables, so the
// deletion of an organization's usage lives here, and the purge job (processors.ts)
// calls it once accounts says the organization has been deleted for long enough.

const batch = 10_000;

/**
 * Deletes every usage event and rollup of the organization, events in batches so that no statement
 * holds its locks for long. Invoices stay: they are billing records, not usage data. Run twice, the
 * second run deletes nothing.
 */
export async function deleteOrganizationUsage(db: Sql, organizationId: string): Promise<{ events: number; minutes: number; days: number }> {
  let events = 0;
  for (;;) {
    const result = await db.query(
      `DELETE FROM analytics.usage_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM analytics.usage_events WHERE "organizationId" = $1::uuid LIMIT ${batch}))`,
      [organizationId],
    );
    events += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < batch) break;
  }
  const minutes = await db.query(`DELETE FROM analytics.usage_minutes WHERE "organizationId" = $1::uuid`, [organizationId]);
  const days = await db.query(`DELETE FROM analytics.usage_days WHERE "organizationId" = $1::uuid`, [organizationId]);
  return { events, minutes: minutes.rowCount ?? 0, days: days.rowCount ?? 0 };
}
