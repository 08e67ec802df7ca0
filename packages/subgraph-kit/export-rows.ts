import { checkOut } from '@mindweave/service-kit/transaction';
import pg from 'pg';

// An organization's rows of one table as lines of a CSV or JSON file, for the exports: the
// subgraph that owns the table names it (analytics' usage events, governance's audit log) and the
// exports' runner writes what comes out. Only `pg` (and service-kit's connection check-out) is
// imported, so that the workers' report processes load nothing else.

export type ExportFormat = 'CSV' | 'JSON';

/** Whose rows, of which period (UTC timestamps, `from` included, `to` excluded), in which format. */
export type ExportQuery = { organizationId: string; from: string; to: string; format: ExportFormat; batchSize: number };

/** Every column but the organization's, in table order; `batches` yields formatted lines, in time order, from one snapshot. */
export type RowStream = { columns: string[]; batches: AsyncIterable<string[]> };

/** What an owner exports: its rows for a query, or null while its table does not exist. */
export type RowSource = (db: pg.Pool, query: ExportQuery) => Promise<RowStream | null>;

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

/**
 * The rows of `schema.table` whose "organizationId" is the query's and whose `timeColumn` falls in
 * its period, ordered by time then id, read through a cursor a batch at a time in one read-only
 * REPEATABLE READ transaction (one snapshot for the whole file). Null while the table does not exist.
 */
export async function streamOrganizationRows(
  db: pg.Pool,
  source: { schema: string; table: string; timeColumn: string },
  query: ExportQuery,
): Promise<RowStream | null> {
  const { rows: columns } = await db.query<Column>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND column_name <> 'organizationId' ORDER BY ordinal_position`,
    [source.schema, source.table],
  );
  if (!columns.length) return null;
  const exprs = columns.map(expressions);
  const select =
    query.format === 'JSON'
      ? `json_build_object(${exprs.map((e) => e.json).join(', ')})::text`
      : exprs.map((e) => e.csv).join(` || ',' || `);
  const table = `${pg.escapeIdentifier(source.schema)}.${pg.escapeIdentifier(source.table)}`;
  const time = pg.escapeIdentifier(source.timeColumn);

  async function* batches(): AsyncGenerator<string[]> {
    const { client, release } = await checkOut(db);
    let done = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(
        `DECLARE export_rows NO SCROLL CURSOR FOR
         SELECT ${select} FROM ${table} WHERE "organizationId" = $1::uuid AND ${time} >= $2::timestamp AND ${time} < $3::timestamp ORDER BY ${time}, id`,
        [query.organizationId, query.from, query.to],
      );
      for (;;) {
        const batch = await client.query<string[]>({ text: `FETCH ${query.batchSize} FROM export_rows`, rowMode: 'array' });
        if (batch.rows.length === 0) break;
        yield batch.rows.map((row) => row[0]!);
      }
      await client.query('COMMIT');
      done = true;
    } finally {
      // Left early (the file could not be written) or failed: the snapshot goes.
      if (!done) await client.query('ROLLBACK').catch(() => undefined);
      release();
    }
  }
  return { columns: columns.map((column) => column.name), batches: batches() };
}
