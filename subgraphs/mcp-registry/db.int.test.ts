import { expect, it } from 'vitest';
import { readEveryModel } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { Prisma } from './generated/prisma/client.ts';

// The SQL migrations are written by hand: prove they give Prisma every table and column it reads.
it('has a table with every column of every Prisma model after migrating', async () => {
  const models = Object.values(Prisma.ModelName);
  expect(models.length).toBeGreaterThan(0);
  await readEveryModel(prisma, models);
});

// Prisma does not read the tsvector column (Unsupported): search.ts does, through SQL.
it('has the search vector, its GIN index and the function that computes it', async () => {
  const [row] = await prisma.$queryRaw<{ vector: string; indexed: boolean }[]>`
    SELECT mcp_registry.mcp_server_search_vector('Name', 'tool', 'description')::text AS vector,
      EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'mcp_registry' AND tablename = 'mcp_servers' AND indexdef ILIKE '%USING gin ("searchVector")%') AS indexed`;
  expect(row).toEqual({ vector: "'descript':4C 'name':1A 'tool':2B,3B", indexed: true });
  await prisma.$queryRaw`SELECT "searchVector"::text FROM mcp_registry.mcp_servers LIMIT 1`;
});
