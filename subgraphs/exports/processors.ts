import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Sql } from '@mindweave/subgraph-kit';
import type { Storage } from './storage.ts';

// The exports' clean-up, run by the workers (workers/main.ts wires it to the analytics queue).

const batch = 500;
/** A writer that has not touched its file for this long has died: no export runs for a day. */
const abandonedAfterMs = 86_400_000;

/**
 * Deletes exports that finished more than `retentionDays` ago: the file first, then the job, so
 * that no job is left pointing at a file that is gone only halfway. Queued and running exports are
 * never touched. Nothing to do while this subgraph has not created its table yet.
 */
export async function cleanUpExports(
  db: Sql,
  storage: Storage,
  retentionDays: number,
  log: Logger,
): Promise<{ deleted: number; files: number; abandonedParts: number; kept: string[] }> {
  const result = { deleted: 0, files: 0, abandonedParts: await storage.removeAbandonedParts(abandonedAfterMs), kept: [] as string[] };
  const { rows: table } = await db.query<{ exists: boolean }>(`SELECT to_regclass('exports.export_jobs') IS NOT NULL AS exists`);
  if (!table[0]?.exists) return result;
  let afterId = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await db.query<{ id: string; fileKey: string | null }>(
      `SELECT id, "fileKey" FROM exports.export_jobs
       WHERE status IN ('SUCCEEDED', 'FAILED') AND COALESCE("finishedAt", "createdAt") < now() - make_interval(days => $1) AND id > $2::uuid
       ORDER BY id LIMIT ${batch}`,
      [retentionDays, afterId],
    );
    const removed: string[] = [];
    for (const row of rows) {
      try {
        if (row.fileKey) await storage.remove(row.fileKey);
      } catch (error) {
        // One file that cannot go (a bad key, a permission) keeps its job, and holds up no other.
        log.warn({ err: error, exportId: row.id }, 'export file could not be deleted; the job is kept');
        result.kept.push(row.id);
        continue;
      }
      if (row.fileKey) result.files++;
      removed.push(row.id);
    }
    if (removed.length) await db.query(`DELETE FROM exports.export_jobs WHERE id = ANY($1::uuid[])`, [removed]);
    result.deleted += removed.length;
    if (rows.length < batch) return result;
    afterId = rows.at(-1)!.id;
  }
}

export function exportsCleanupProcessors(deps: {
  db: Sql;
  storage: Storage;
  retentionDays: number;
  log: Logger;
}): Pick<Processors<'analytics'>, 'exports-cleanup'> {
  return {
    'exports-cleanup': async (data) => {
      const retentionDays = data.retentionDays ?? deps.retentionDays;
      const result = await cleanUpExports(deps.db, deps.storage, retentionDays, deps.log);
      if (result.deleted || result.abandonedParts || result.kept.length) deps.log.info({ ...result, retentionDays }, 'old exports deleted');
      return result;
    },
  };
}
