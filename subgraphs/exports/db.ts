import { createPgAdapter } from '@mindweave/subgraph-kit/db';
import { env } from './env.ts';
import { PrismaClient } from './generated/prisma/client.ts';

export const dbSchema = 'exports';

export const prisma = new PrismaClient({
  adapter: createPgAdapter(env.DATABASE_URL, dbSchema, env.DATABASE_POOL_MAX),
  log: [{ emit: 'event', level: 'query' }],
});
