import type pg from 'pg';

/**
 * One connection of the pool for statements of the caller's own (a transaction, a cursor), and how
 * to give it back. The pool listens for a connection's 'error' only while it is idle; one that
 * PostgreSQL ends while it is out (a restart) would emit an 'error' nobody handles, which crashes
 * the process. So it is listened to here while it is out, and given back broken, to be replaced.
 */
export async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: () => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  return {
    client,
    release: () => {
      client.removeListener('error', onError);
      client.release(broken);
    },
  };
}

/**
 * Runs `work` in a transaction on one connection of the pool: committed when it resolves, rolled
 * back when it throws (the error goes on), the connection released either way.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    release();
  }
}
