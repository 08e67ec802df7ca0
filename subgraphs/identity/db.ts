import { createPgAdapter } from '@mindweave/subgraph-kit/db';
import { env } from './env.ts';
import { PrismaClient } from './generated/prisma/client.ts';

export const dbSchema = 'identity';

// Query events let tests count the SQL statements a request runs.
export const prisma = new PrismaClient({
  adapter: createPgAdapter(env.DATABASE_URL, dbSchema, env.DATABASE_POOL_MAX),
  log: [{ emit: 'event', level: 'query' }],
});
