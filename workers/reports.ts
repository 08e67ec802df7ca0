import type { SandboxedJob } from 'bullmq';
import pg from 'pg';
import { usageEventRows } from '@mindweave/analytics/export-rows';
import { runExport, type ExportSources, type RunResult } from '@mindweave/exports/run';
import { createLocalStorage, type Storage } from '@mindweave/exports/storage';
import { auditEntryRows } from '@mindweave/governance/export-rows';
import { isFinalAttempt, parseJob, withJobSpan } from '@mindweave/jobs';
import { createLogger, type Logger } from '@mindweave/service-kit';
import { loadWorkersEnv } from './env.ts';

/**
 * V8 settings of the reports queue's child processes (main.ts): an export allocates strings fast
 * and keeps few, so a small young generation and a capped old one keep its memory flat.
 */
export const reportProcessArgs = ['--max-semi-space-size=2', '--max-old-space-size=192'];

/** Each export type's rows, from the subgraph that owns them. */
const sources: ExportSources = { USAGE: usageEventRows, AUDIT: auditEntryRows };

export async function runReport(job: SandboxedJob, deps: { db: pg.Pool; storage: Storage; log: Logger }): Promise<RunResult> {
  const { exportId } = parseJob('reports', 'export', job);
  const started = performance.now();
  try {
    const result = await runExport({
      db: deps.db,
      storage: deps.storage,
      sources,
      exportId,
      finalAttempt: isFinalAttempt(job),
      onProgress: (rows) => job.updateProgress(rows),
    });
    deps.log.info({ exportId, ...result, durationMs: Math.round(performance.now() - started) }, 'export finished');
    return result;
  } catch (error) {
    deps.log.error({ err: error, exportId, attempt: job.attemptsMade + 1 }, 'export failed');
    throw error;
  }
}

let deps: { db: pg.Pool; storage: Storage; log: Logger } | undefined;

/**
 * The reports queue's processor, run by BullMQ in a child process of the worker (a sandboxed
 * processor): exports stream from PostgreSQL into storage (exports' run.ts) there, so that a big
 * one neither holds up emails and webhooks nor leaves its memory in the worker.
 */
export default async function processReport(job: SandboxedJob): Promise<RunResult> {
  if (!deps) {
    const env = loadWorkersEnv();
    const log = createLogger({ name: 'workers-reports', level: env.LOG_LEVEL });
    const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
    // A connection PostgreSQL drops while idle (a restart) is replaced on next use; unheard, its 'error' would end this process.
    db.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL connection failed'));
    deps = { db, storage: createLocalStorage(env.EXPORTS_DIR), log };
  }
  const ready = deps;
  return withJobSpan(job, () => runReport(job, ready));
}
