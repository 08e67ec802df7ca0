import pg from 'pg';
import { fileKeyOf, type Storage } from './storage.ts';

// The workers' side of exports: stream an organization's rows from PostgreSQL through a cursor into
// a CSV or JSON file, keeping the job row's progress. Plain SQL on the workers' pool, qualified
// with each table's schema.

type ExportType = 'USAGE' | 'AUDIT';
type ExportFormat = 'CSV' | 'JSON';

type JobRow = { id: string; organizationId: string; requestedBy: string; type: ExportType; format: ExportFormat; from: string; to: string };

/** What each export type reads: every column but the organization's, rows in time order. */
export const exportSources: Record<ExportType, { schema: string; table: string; timeColumn: string }> = {
  USAGE: { schema: 'analytics', table: 'usage_events', timeColumn: 'occurredAt' },
  // The governance subgraph's audit log; an empty file while that table does not exist.
  AUDIT: { schema: 'governance', table: 'audit_entries', timeColumn: 'createdAt' },
};

type Column = { name: string; type: string };

const isoTimestamp = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Types whose text never holds a comma, a quote or a line break: written as they are.
const plainTypes = new Set(['uuid', 'integer', 'bigint', 'smallint', 'double precision', 'real', 'numeric', 'boolean', 'date']);

/**
 * How a column is written: a CSV field (RFC 4180 quoting, timestamps as ISO-8601 UTC) or a JSON
 * member. PostgreSQL builds each whole line, so that a row reaches JavaScript as one string.
 *
 * A text cell that a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
 * carriage return: a policy named `=HYPERLINK(...)`, say) is written as text, as OWASP's CSV
 * injection advice says: prefixed with a single quote and quoted.
 */
function expressions(column: Column) {
  const ref = pg.escapeIdentifier(column.name);
  const timestamp = column.type.startsWith('timestamp');
  const text = `${ref}::text`;
  const quoted = (prefix: string) => `'"${prefix}' || replace(${text}, '"', '""') || '"'`;
  const csv = timestamp
    ? isoTimestamp(ref)
    : plainTypes.has(column.type)
      ? text
      : `CASE WHEN ${text} ~ '^[-=+@\t\r]' THEN ${quoted("''")} WHEN ${text} ~ '[",\r\n]' THEN ${quoted('')} ELSE ${text} END`;
  return {
    csv: `coalesce(${csv}, '')`,
    json: `${pg.escapeLiteral(column.name)}, ${timestamp ? isoTimestamp(ref) : ref}`,
  };
}

async function columnsOf(db: pg.Pool, source: { schema: string; table: string }): Promise<Column[] | null> {
  const { rows } = await db.query<{ name: string; type: string }>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND column_name <> 'organizationId' ORDER BY ordinal_position`,
    [source.schema, source.table],
  );
  return rows.length ? rows : null;
}

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
const csvLine = (values: string[]) => `${values.map(csvField).join(',')}\r\n`;

export interface RunExportOptions {
  db: pg.Pool;
  storage: Storage;
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

async function finish(db: pg.Pool, job: JobRow, outcome: { status: 'SUCCEEDED' | 'FAILED'; rows: number; bytes: number; fileKey: string | null; error: string | null }) {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `UPDATE exports.export_jobs SET status = $2::exports."ExportStatus", "rowsWritten" = $3, bytes = $4, "fileKey" = $5, error = $6, "finishedAt" = now() WHERE id = $1`,
      [job.id, outcome.status, outcome.rows, outcome.bytes, outcome.fileKey, outcome.error],
    );
    // export.completed leaves with the status, through the outbox (relayed by the exports subgraph).
    await client.query(`INSERT INTO exports.outbox_events (id, type, "aggregateId", payload) VALUES (gen_random_uuid(), 'export.completed', $1, $2::jsonb)`, [
      job.id,
      JSON.stringify({ organizationId: job.organizationId, exportId: job.id, requestedBy: job.requestedBy, status: outcome.status }),
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
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

  const source = exportSources[job.type];
  const key = fileKeyOf(job.organizationId, job.id, job.format);
  const file = await storage.create(key);
  let rows = 0;
  let nextProgressAt = 0;
  try {
    const columns = await columnsOf(db, source);
    const json = job.format === 'JSON';
    if (json) await file.write('[');
    else if (columns) await file.write(csvLine(columns.map((column) => column.name)));

    if (columns) {
      const exprs = columns.map(expressions);
      const select = json ? `json_build_object(${exprs.map((e) => e.json).join(', ')})::text` : exprs.map((e) => e.csv).join(` || ',' || `);
      const table = `${pg.escapeIdentifier(source.schema)}.${pg.escapeIdentifier(source.table)}`;
      const time = pg.escapeIdentifier(source.timeColumn);
      const client = await db.connect();
      try {
        // One snapshot for the whole file; the cursor hands rows over a batch at a time.
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await client.query(
          `DECLARE export_rows NO SCROLL CURSOR FOR
           SELECT ${select} FROM ${table} WHERE "organizationId" = $1::uuid AND ${time} >= $2::timestamp AND ${time} < $3::timestamp ORDER BY ${time}, id`,
          [job.organizationId, job.from, job.to],
        );
        for (;;) {
          const batch = await client.query<string[]>({ text: `FETCH ${batchSize} FROM export_rows`, rowMode: 'array' });
          if (batch.rows.length === 0) break;
          const lines = batch.rows.map((row) => row[0]);
          await file.write(json ? `${rows === 0 ? '\n' : ',\n'}${lines.join(',\n')}` : `${lines.join('\r\n')}\r\n`);
          rows += lines.length;
          if (Date.now() >= nextProgressAt) {
            nextProgressAt = Date.now() + progressEveryMs;
            await db.query(`UPDATE exports.export_jobs SET "rowsWritten" = $2 WHERE id = $1`, [job.id, rows]);
            await options.onProgress?.(rows);
          }
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
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
      await finish(db, job, { status: 'FAILED', rows, bytes: 0, fileKey: null, error: 'The export could not be written; request it again' });
    } else {
      await db.query(`UPDATE exports.export_jobs SET status = 'QUEUED' WHERE id = $1 AND status = 'RUNNING'`, [job.id]);
    }
    throw error;
  }
}
