import { PrismaPg } from '@prisma/adapter-pg';

/**
 * Prisma's PostgreSQL driver adapter, bound to the service's own schema (no Rust engine). The
 * search path is set too, so that raw SQL ($queryRaw) finds the service's tables unqualified.
 */
export function createPgAdapter(databaseUrl: string, schema: string, maxConnections = 10) {
  return new PrismaPg({ connectionString: databaseUrl, max: maxConnections, idleTimeoutMillis: 30_000, options: `-c search_path=${schema}` }, { schema });
}

/** Prisma's error for a unique constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === 'P2002';
}
