import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { inTransaction } from './transaction.ts';

// The test stack's database, a table of this test's own.
const pool = new pg.Pool({ connectionString: process.env['DATABASE_URL'], max: 1 });
const table = `transaction_test_${process.pid}`;
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.end();
});

it('commits what the work wrote, rolls all of it back when the work throws, and gives the connection back either way', async () => {
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  expect(
    await inTransaction(pool, async (client) => {
      await client.query(`INSERT INTO ${table} VALUES (1)`);
      return 'done';
    }),
  ).toBe('done');
  await expect(
    inTransaction(pool, async (client) => {
      await client.query(`INSERT INTO ${table} VALUES (2)`);
      await client.query(`INSERT INTO ${table} VALUES (1)`); // a duplicate key
    }),
  ).rejects.toThrow(/duplicate key/);
  // One connection in the pool: had it not been released, this would wait forever.
  expect((await pool.query(`SELECT id FROM ${table} ORDER BY id`)).rows).toEqual([{ id: 1 }]);
  expect(pool.idleCount).toBe(1);
});
