import pg from 'pg';

/** The registry's table, `schema_registry.versions` (migrations/): one row per published supergraph. */
export const registrySchema = 'schema_registry';

export interface PublishedVersion {
  id: number;
  /** sha256 (hex) of the supergraph SDL. */
  hash: string;
  supergraph: string;
}

/**
 * The latest published supergraph, or null when the database has no registry or it is empty.
 * This module needs only `pg`, so that a router can read the registry without the publishing side.
 */
export async function latestPublishedVersion(databaseUrl: string): Promise<PublishedVersion | null> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  // The analytics subgraph asks this in a long-lived process: a connection PostgreSQL ends fails the
  // query under way, and must not also raise an 'error' event nobody handles, which would crash it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const table = await client.query<{ exists: boolean }>(`SELECT to_regclass('${registrySchema}.versions') IS NOT NULL AS exists`);
    if (!table.rows[0]?.exists) return null;
    const latest = await client.query<PublishedVersion>(
      `SELECT id, hash, supergraph FROM ${registrySchema}.versions ORDER BY id DESC LIMIT 1`,
    );
    return latest.rows[0] ?? null;
  } finally {
    await client.end();
  }
}

/**
 * The latest published supergraph's SDL, read on a pool the caller keeps open (the router polls
 * it); null while the registry has no table or no version yet. Any other failure throws.
 */
export async function latestSupergraph(db: Pick<pg.Pool, 'query'>): Promise<string | null> {
  const result = await db
    .query<{ supergraph: string }>(`SELECT supergraph FROM ${registrySchema}.versions ORDER BY id DESC LIMIT 1`)
    .catch((error: unknown) => {
      if ((error as { code?: string }).code === '42P01') return null;
      throw error;
    });
  return result?.rows[0]?.supergraph ?? null;
}
