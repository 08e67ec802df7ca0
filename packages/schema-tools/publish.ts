import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { packageRoot } from '@mindweave/service-kit';
import { migrate } from '@mindweave/subgraph-kit/migrations';
import { diffSupergraphs, type SchemaChange } from './check.ts';
import { registrySchema } from './registry.ts';

export interface PublishInput {
  databaseUrl: string;
  supergraphSdl: string;
  /** Each subgraph's SDL by name. */
  subgraphs: Record<string, string>;
  author: string;
}

export type PublishResult =
  | { published: true; id: number; hash: string; createdAt: Date; previousId: number | null; changes: SchemaChange[] }
  | { published: false; id: number; hash: string; createdAt: Date; latestId: number };

/** Notified with `{ "id", "hash" }` when a version is published, for routers that LISTEN. */
export const publishChannel = 'schema_registry_published';

/**
 * Records a supergraph as a new version with the changes from the latest one (the registry's
 * migrations run first). Publishing a supergraph whose hash is already recorded is a no-op.
 * Concurrent publishers are serialised, so that each version's changes are against its predecessor.
 */
export async function publishSupergraph(input: PublishInput): Promise<PublishResult> {
  await migrate({ databaseUrl: input.databaseUrl, schema: registrySchema, directory: join(packageRoot(import.meta.url), 'migrations') });
  const hash = createHash('sha256').update(input.supergraphSdl).digest('hex');
  const client = new pg.Client({ connectionString: input.databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${registrySchema}:publish`]);
    const versions = `${registrySchema}.versions`;
    const latest = (
      await client.query<{ id: number; hash: string; supergraph: string }>(
        `SELECT id, hash, supergraph FROM ${versions} ORDER BY id DESC LIMIT 1`,
      )
    ).rows[0];
    const existing = (
      await client.query<{ id: number; created_at: Date }>(`SELECT id, created_at FROM ${versions} WHERE hash = $1`, [hash])
    ).rows[0];
    if (existing) {
      await client.query('COMMIT');
      return { published: false, id: existing.id, hash, createdAt: existing.created_at, latestId: latest!.id };
    }
    const changes = latest ? await diffSupergraphs(latest.supergraph, input.supergraphSdl) : [];
    const inserted = await client.query<{ id: number; created_at: Date }>(
      `INSERT INTO ${versions} (hash, supergraph, subgraphs, author, changes) VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`,
      [hash, input.supergraphSdl, JSON.stringify(input.subgraphs), input.author, JSON.stringify(changes)],
    );
    const { id, created_at: createdAt } = inserted.rows[0]!;
    await client.query('SELECT pg_notify($1, $2)', [publishChannel, JSON.stringify({ id, hash })]);
    await client.query('COMMIT');
    return { published: true, id, hash, createdAt, previousId: latest?.id ?? null, changes };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
