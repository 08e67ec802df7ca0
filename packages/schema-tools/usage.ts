import { join } from 'node:path';
import { isInputObjectType, isInterfaceType, isObjectType, type GraphQLSchema } from 'graphql';
import pg from 'pg';
import type { EventEnvelope } from '@mindweave/events';
import { inTransaction, packageRoot, type Logger } from '@mindweave/service-kit';
import { migrate } from '@mindweave/subgraph-kit/migrations';
import { registrySchema } from './registry.ts';

/**
 * Operation usage in the schema registry: what the routers report (`schema.usage_reported`), kept
 * `retentionDays`, and what the checks and the analytics subgraph read of it. The only module that
 * touches `schema_registry.operations` and `schema_registry.operation_usage`.
 */

type Queryable = Pick<pg.Pool | pg.Client, 'query'>;

/** The registry's migrations (versions and usage), under an advisory lock. */
export function migrateRegistry(databaseUrl: string, log?: Logger) {
  return migrate({
    databaseUrl,
    schema: registrySchema,
    directory: join(packageRoot(import.meta.url), 'migrations'),
    ...(log ? { log } : {}),
  });
}

const purgeEveryMs = 3_600_000;

/**
 * The consumer's side: writes each report's operations and counts in one transaction. Idempotent:
 * a report delivered twice adds nothing (its rows are keyed by the event id). Deletes what is older
 * than `retentionDays` at most once an hour.
 */
export function createUsageStore(options: { db: pg.Pool; retentionDays: number; log: Logger }) {
  const { db, log } = options;
  let lastPurge = 0;

  async function handle(events: EventEnvelope[]) {
    const operations = new Map<string, { hash: string; name: string; type: string; coordinates: string[]; last_seen: string }>();
    const rows: Record<string, unknown>[] = [];
    for (const event of events) {
      if (event.type !== 'schema.usage_reported') continue;
      const report = (event as EventEnvelope<'schema.usage_reported'>).data;
      const minute = new Date(Math.floor(Date.parse(report.from) / 60_000) * 60_000).toISOString();
      for (const op of report.operations) {
        const key = `${op.hash}\n${op.name}`;
        const known = operations.get(key);
        if (!known || known.last_seen < report.to)
          operations.set(key, { hash: op.hash, name: op.name, type: op.type, coordinates: op.coordinates, last_seen: report.to });
        rows.push({
          report_id: event.id,
          minute,
          operation_hash: op.hash,
          operation_name: op.name,
          client_name: op.clientName,
          client_version: op.clientVersion,
          requests: op.requests,
          errors: op.errors,
          latency: op.latency,
          latency_buckets_ms: report.latencyBucketsMs,
        });
      }
    }
    if (rows.length) {
      await inTransaction(db, async (client) => {
        await client.query(
          `INSERT INTO ${registrySchema}.operations (hash, name, type, coordinates, last_seen)
           SELECT hash, name, type, ARRAY(SELECT jsonb_array_elements_text(coordinates)), last_seen
           FROM jsonb_to_recordset($1::jsonb) AS r(hash text, name text, type text, coordinates jsonb, last_seen timestamptz)
           ON CONFLICT (hash, name) DO UPDATE SET type = excluded.type, coordinates = excluded.coordinates,
             last_seen = greatest(operations.last_seen, excluded.last_seen)`,
          [JSON.stringify([...operations.values()])],
        );
        await client.query(
          `INSERT INTO ${registrySchema}.operation_usage
             (report_id, minute, operation_hash, operation_name, client_name, client_version, requests, errors, latency, latency_buckets_ms)
           SELECT report_id, minute, operation_hash, operation_name, client_name, client_version, requests, errors,
             ARRAY(SELECT jsonb_array_elements_text(latency)::bigint), ARRAY(SELECT jsonb_array_elements_text(latency_buckets_ms)::real)
           FROM jsonb_to_recordset($1::jsonb) AS r(report_id text, minute timestamptz, operation_hash text, operation_name text,
             client_name text, client_version text, requests bigint, errors bigint, latency jsonb, latency_buckets_ms jsonb)
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(rows)],
        );
      });
    }
    if (Date.now() - lastPurge > purgeEveryMs) {
      lastPurge = Date.now();
      await purge().catch((error: unknown) => log.warn({ err: error }, 'operation usage not purged'));
    }
  }

  /** Deletes usage older than the retention, and operations not seen since. */
  async function purge(): Promise<number> {
    const days = String(options.retentionDays);
    const usage = await db.query(`DELETE FROM ${registrySchema}.operation_usage WHERE minute < now() - ($1 || ' days')::interval`, [days]);
    await db.query(`DELETE FROM ${registrySchema}.operations WHERE last_seen < now() - ($1 || ' days')::interval`, [days]);
    if (usage.rowCount) log.info({ rows: usage.rowCount, retentionDays: options.retentionDays }, 'old operation usage deleted');
    return usage.rowCount ?? 0;
  }

  return { handle, purge };
}

/** One operation's use by one client (all its versions) over a period. */
export interface ClientUsage {
  hash: string;
  name: string;
  type: string;
  coordinates: string[];
  clientName: string;
  clientVersions: string[];
  requests: number;
  errors: number;
  lastSeen: Date;
}

export interface UsageFilter {
  from: Date;
  to?: Date;
  /** Clients whose operations do not count. */
  excludeClients?: string[];
  /** An operation counts for a client only with at least this many requests in the period. */
  minRequests?: number;
  /** Only the operations that use this schema coordinate. */
  coordinate?: string;
}

/** Each operation's use per client over a period, most requested first. */
export async function readUsage(db: Queryable, filter: UsageFilter): Promise<ClientUsage[]> {
  const values: unknown[] = [filter.from, filter.to ?? new Date(Date.now() + 60_000), filter.excludeClients ?? [], filter.minRequests ?? 1];
  const byCoordinate = filter.coordinate ? `AND o.coordinates @> ARRAY[$${values.push(filter.coordinate)}]::text[]` : '';
  const result = await db.query<{
    hash: string;
    name: string;
    type: string;
    coordinates: string[];
    client_name: string;
    versions: string[];
    requests: number;
    errors: number;
    last_seen: Date;
  }>(
    `SELECT u.operation_hash AS hash, u.operation_name AS name, o.type, o.coordinates, u.client_name,
            array_agg(DISTINCT u.client_version ORDER BY u.client_version) AS versions,
            sum(u.requests)::float8 AS requests, sum(u.errors)::float8 AS errors, max(u.minute) AS last_seen
     FROM ${registrySchema}.operation_usage u
     JOIN ${registrySchema}.operations o ON o.hash = u.operation_hash AND o.name = u.operation_name
     WHERE u.minute >= $1 AND u.minute < $2 AND NOT (u.client_name = ANY($3::text[])) ${byCoordinate}
     GROUP BY u.operation_hash, u.operation_name, o.type, o.coordinates, u.client_name
     HAVING sum(u.requests) >= $4
     ORDER BY requests DESC, name, client_name`,
    values,
  );
  return result.rows.map((row) => ({
    hash: row.hash,
    name: row.name,
    type: row.type,
    coordinates: row.coordinates,
    clientName: row.client_name,
    clientVersions: row.versions,
    requests: row.requests,
    errors: row.errors,
    lastSeen: row.last_seen,
  }));
}

export type Bucket = 'minute' | 'hour' | 'day';

export interface UsagePoint {
  bucket: Date;
  hash: string;
  name: string;
  clientName: string;
  clientVersion: string;
  requests: number;
  errors: number;
}

/** Requests and errors per bucket, operation and client version: operations by client over time. */
export async function usageOverTime(
  db: Queryable,
  options: { from: Date; to: Date; bucket: Bucket; clientName?: string | undefined; limit: number },
): Promise<UsagePoint[]> {
  const values: unknown[] = [options.bucket, options.from, options.to, options.limit];
  const byClient = options.clientName !== undefined ? `AND client_name = $${values.push(options.clientName)}` : '';
  const result = await db.query<{
    bucket: Date;
    hash: string;
    name: string;
    client_name: string;
    client_version: string;
    requests: number;
    errors: number;
  }>(
    `SELECT date_trunc($1, minute) AS bucket, operation_hash AS hash, operation_name AS name, client_name, client_version,
            sum(requests)::float8 AS requests, sum(errors)::float8 AS errors
     FROM ${registrySchema}.operation_usage
     WHERE minute >= date_trunc($1, $2::timestamptz) AND minute < $3 ${byClient}
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, requests DESC
     LIMIT $4`,
    values,
  );
  return result.rows.map((row) => ({
    bucket: row.bucket,
    hash: row.hash,
    name: row.name,
    clientName: row.client_name,
    clientVersion: row.client_version,
    requests: row.requests,
    errors: row.errors,
  }));
}

/**
 * The fields of a schema's object, interface and input types that no operation of `usage` used,
 * as `Type.field`, sorted.
 */
export function unusedFields(schema: GraphQLSchema, usage: Iterable<{ coordinates: Iterable<string> }>): string[] {
  const used = new Set<string>();
  for (const operation of usage) for (const coordinate of operation.coordinates) used.add(coordinate);
  const unused: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type) || isInputObjectType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      if (!used.has(coordinate)) unused.push(coordinate);
    }
  }
  return unused.sort();
}

/** What `schema check` and `schema unused` know of traffic, or why they know nothing. */
export type Traffic =
  | { source: 'registry'; days: number; description: string; operations: ClientUsage[] }
  | { source: 'none'; days: number; description: string };

/**
 * The operations recorded in the registry at `databaseUrl` over the last `days`, filtered. No
 * traffic (and why) when the registry cannot be read, keeps no usage, or recorded none in the
 * period: a check then knows nothing of clients, which is not the same as no client.
 */
export async function readTraffic(
  databaseUrl: string | undefined,
  options: { days: number; excludeClients?: string[]; minRequests?: number },
): Promise<Traffic> {
  const { days } = options;
  if (!databaseUrl) return { source: 'none', days, description: 'DATABASE_URL is not set, so no registry was asked for traffic' };
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const table = await client.query<{ exists: boolean }>(`SELECT to_regclass('${registrySchema}.operation_usage') IS NOT NULL AS exists`);
    if (!table.rows[0]?.exists)
      return { source: 'none', days, description: 'the registry at DATABASE_URL keeps no operation usage (no router has reported to it)' };
    const from = new Date(Date.now() - days * 86_400_000);
    const any = await client.query(`SELECT 1 FROM ${registrySchema}.operation_usage WHERE minute >= $1 LIMIT 1`, [from]);
    if (!any.rowCount)
      return { source: 'none', days, description: `the registry at DATABASE_URL recorded no operation in the last ${days} day(s)` };
    const operations = await readUsage(client, {
      from,
      ...(options.excludeClients ? { excludeClients: options.excludeClients } : {}),
      ...(options.minRequests ? { minRequests: options.minRequests } : {}),
    });
    const clients = new Set(operations.map((o) => o.clientName)).size;
    const filters = [
      options.excludeClients?.length ? `excluding ${options.excludeClients.map(clientLabel).join(', ')}` : '',
      (options.minRequests ?? 1) > 1 ? `at least ${options.minRequests} requests per operation and client` : '',
    ].filter(Boolean);
    return {
      source: 'registry',
      days,
      description: `${operations.length} operation(s) of ${clients} client(s) recorded by the routers in the last ${days} day(s)${filters.length ? ` (${filters.join('; ')})` : ''}`,
      operations,
    };
  } catch (error) {
    return { source: 'none', days, description: `the registry at DATABASE_URL could not be read (${(error as Error).message})` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A client as reports name it: the name and versions it sent, or that it sent none. */
export const clientLabel = (name: string) => (name === '' ? '(no client name)' : name);
