import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Sql } from '@mindweave/subgraph-kit';

// The audit log's clean-up, run by the workers (workers/main.ts wires it to the analytics queue).
// Plain SQL on the pool the workers pass; nothing here reads the environment.

const batch = 10_000;

/**
 * Deletes audit-log entries older than the retention, in batches so that no statement holds its
 * locks for long. Nothing to do while this subgraph has not created its table yet.
 */
export async function cleanUpAuditLog(db: Sql, retentionDays: number): Promise<{ deleted: number; skipped?: string }> {
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regclass('governance.audit_entries') IS NOT NULL AS exists`);
  if (!rows[0]?.exists) return { deleted: 0, skipped: 'no audit log table' };
  let deleted = 0;
  for (;;) {
    const result = await db.query(
      `DELETE FROM governance.audit_entries WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM governance.audit_entries WHERE "createdAt" < now() - make_interval(days => $1) LIMIT ${batch}))`,
      [retentionDays],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < batch) return { deleted };
  }
}

export function auditCleanupProcessors(deps: { db: Sql; log: Logger }): Pick<Processors<'analytics'>, 'audit-cleanup'> {
  return {
    'audit-cleanup': async (data) => {
      const result = await cleanUpAuditLog(deps.db, data.retentionDays);
      deps.log.info({ ...result, retentionDays: data.retentionDays }, 'audit log cleaned up');
      return result;
    },
  };
}
