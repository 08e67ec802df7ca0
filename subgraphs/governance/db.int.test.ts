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
