import pg from 'pg';
import Postgrator from 'postgrator';
import type { Logger } from '@mindweave/service-kit';

/**
 * Applies the versioned SQL files in `directory` (`001.do.name.sql`, ...) to the service's own
 * PostgreSQL schema. An advisory lock lets several instances start at once.
 */
export async function migrate(options: { databaseUrl: string; schema: string; directory: string; log?: Logger }) {
  const { databaseUrl, schema, directory, log } = options;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
    const postgrator = new Postgrator({
      migrationPattern: `${directory}/*.sql`,
      driver: 'pg',
      database: client.database ?? 'postgres',
      schemaTable: `${schema}.schemaversion`,
      currentSchema: schema,
      execQuery: (query) => client.query(query),
    });
    const applied = await postgrator.migrate();
    if (applied.length > 0) log?.info({ schema, applied: applied.map((m) => m.filename) }, 'migrations applied');
    return applied.map((m) => m.filename);
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`migrate:${schema}`]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Reads one row of every model. findFirst selects every scalar column, so a table or column the
 * hand-written migrations lack fails the query: the check that keeps migrations and schema.prisma
 * in step.
 */
export async function readEveryModel(client: object, modelNames: readonly string[]) {
  for (const model of modelNames) {
    const delegate = (client as Record<string, { findFirst(): Promise<unknown> }>)[model.charAt(0).toLowerCase() + model.slice(1)];
    if (!delegate) throw new Error(`the client has no model ${model}`);
    await delegate.findFirst();
  }
}
