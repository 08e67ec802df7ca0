import type pg from 'pg';
import { inTransaction } from '@mindweave/service-kit';
import type { RowSource } from '@mindweave/subgraph-kit/export-rows';
import { fileKeyOf, type Storage } from './storage.ts';

// The workers' side of exports: stream an organization's rows, which the table's owner hands over
// (analytics' usage events, governance's audit log: `sources`), into a CSV or JSON file, keeping
// the job row's progress. Plain SQL on the workers' pool, qualified with this subgraph's schema.

type ExportType = 'USAGE' | 'AUDIT';
type ExportFormat = 'CSV' | 'JSON';

type JobRow = { id: string; organizationId: string; requestedBy: string; type: ExportType; format: ExportFormat; from: string; to: string };

/** Where each export type's rows come from: a function of the subgraph that owns them. */
export type ExportSources = Record<ExportType, RowSource>;

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
const csvLine = (values: string[]) => `${values.map(csvField).join(',')}\r\n`;

export interface RunExportOptions {
  db: pg.Pool;
  storage: Storage;
  sources: ExportSources;
  exportId: string;
  /** Rows fetched from the cursor at a time; memory holds about one batch. */
  batchSize?: number;
  /** This attempt is the job's last: a failure now marks the export FAILED. */
  finalAttempt: boolean;
  onProgress?: (rows: number) => unknown;
}

/** How often the job row's progress is written while rows stream. */
const progressEveryMs = 250;

export type RunResult = { status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED'; rows: number; bytes: number };

async function finish(
  db: pg.Pool,
  job: JobRow,
  outcome: { status: 'SUCCEEDED' | 'FAILED'; rows: number; bytes: number; fileKey: string | null; error: string | null },
) {
  await inTransaction(db, async (client) => {
    await client.query(
      `UPDATE exports.export_jobs SET status = $2::exports."ExportStatus", "rowsWritten" = $3, bytes = $4, "fileKey" = $5, error = $6, "finishedAt" = now() WHERE id = $1`,
      [job.id, outcome.status, outcome.rows, outcome.bytes, outcome.fileKey, outcome.error],
    );
    // export.completed leaves with the status, through the outbox (relayed by the exports subgraph).
    await client.query(
      `INSERT INTO exports.outbox_events (id, type, "aggregateId", payload) VALUES (gen_random_uuid(), 'export.completed', $1, $2::jsonb)`,
      [
        job.id,
        JSON.stringify({ organizationId: job.organizationId, exportId: job.id, requestedBy: job.requestedBy, status: outcome.status }),
      ],
    );
  });
}

/**
 * Runs one export. A job already finished is skipped (a redelivered job does nothing); one that
 * was RUNNING when its worker died starts over, the partial file discarded.
 */
export async function runExport(options: RunExportOptions): Promise<RunResult> {
  const { db, storage } = options;
  const batchSize = options.batchSize ?? 5_000;
  const { rows: claimed } = await db.query<JobRow>(
    `UPDATE exports.export_jobs SET status = 'RUNNING', "startedAt" = now(), "rowsWritten" = 0, error = NULL
     WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')
     RETURNING id, "organizationId", "requestedBy", type, format,
               to_char("from", 'YYYY-MM-DD HH24:MI:SS.MS') AS "from", to_char("to", 'YYYY-MM-DD HH24:MI:SS.MS') AS "to"`,
    [options.exportId],
  );
  const job = claimed[0];
  if (!job) return { status: 'SKIPPED', rows: 0, bytes: 0 };

  const key = fileKeyOf(job.organizationId, job.id, job.format);
  const file = await storage.create(key);
  let rows = 0;
  let nextProgressAt = 0;
  try {
    const json = job.format === 'JSON';
    const stream = await options.sources[job.type](db, {
      organizationId: job.organizationId,
      from: job.from,
      to: job.to,
      format: job.format,
      batchSize,
    });
    if (json) await file.write('[');
    else if (stream) await file.write(csvLine(stream.columns));
    if (stream) {
      for await (const lines of stream.batches) {
        await file.write(json ? `${rows === 0 ? '\n' : ',\n'}${lines.join(',\n')}` : `${lines.join('\r\n')}\r\n`);
        rows += lines.length;
        if (Date.now() >= nextProgressAt) {
          nextProgressAt = Date.now() + progressEveryMs;
          await db.query(`UPDATE exports.export_jobs SET "rowsWritten" = $2 WHERE id = $1`, [job.id, rows]);
          await options.onProgress?.(rows);
        }
      }
    }
    if (json) await file.write(rows ? '\n]\n' : ']\n');
    const bytes = await file.commit();
    await finish(db, job, { status: 'SUCCEEDED', rows, bytes, fileKey: key, error: null });
    return { status: 'SUCCEEDED', rows, bytes };
  } catch (error) {
    await file.abort();
    if (options.finalAttempt) {
      // The cause goes to the workers' log; clients get no SQL or paths.
      await finish(db, job, {
        status: 'FAILED',
        rows,
        bytes: 0,
        fileKey: null,
        error: 'The export could not be written; request it again',
      });
    } else {
      await db.query(`UPDATE exports.export_jobs SET status = 'QUEUED' WHERE id = $1 AND status = 'RUNNING'`, [job.id]);
    }
    throw error;
  }
}
