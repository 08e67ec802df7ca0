import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Logger } from '@mindweave/service-kit';

/**
 * Prisma's PostgreSQL driver adapter, bound to the service's own schema (no Rust engine). The
 * search path is set too, so that raw SQL ($queryRaw) finds the service's tables unqualified.
 */
export function createPgAdapter(databaseUrl: string, schema: string, maxConnections: number) {
  return new PrismaPg(
    { connectionString: databaseUrl, max: maxConnections, idleTimeoutMillis: 30_000, options: `-c search_path=${schema}` },
    { schema },
  );
}

/** What plain SQL modules need of a connection pool (the workers' pool, a subgraph's): its `query`. */
export type Sql = Pick<pg.Pool, 'query'>;

/** Prisma's error for a unique constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === 'P2002';
}

/**
 * A plain pg pool on the service's schema, for the few statements that skip Prisma (the outbox
 * relay, analytics' batch insert). An idle connection PostgreSQL drops (a restart, say) is logged
 * and replaced on next use, instead of crashing the process with an unhandled 'error' event.
 */
export function createPgPool(databaseUrl: string, schema: string, log: Logger, maxConnections = 2) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: maxConnections, options: `-c search_path=${schema}` });
  pool.on('error', (error) => log.warn({ err: error, schema }, 'an idle PostgreSQL connection failed'));
  return pool;
}
