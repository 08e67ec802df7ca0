import { isPassingFailure } from '@mindweave/errors';
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

it('lives through PostgreSQL ending the connection mid-transaction: the work fails as a passing failure and the pool replaces the connection', async () => {
  const admin = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
  await admin.connect();
  try {
    const failure = await inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // The connection's 'error' arrives while no statement is under way: unheard, it would crash the process (and fail this run).
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.query('SELECT 1');
    }).catch((error: unknown) => error);
    expect(isPassingFailure(failure)).toBe(true);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  } finally {
    await admin.end();
  }
});
