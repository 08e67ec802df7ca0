import pg from 'pg';
import { stack } from './client.ts';

/** Reads what a service wrote, e.g. the outbox events that carry emails' links. */
export async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function outboxLink(type: string, userId: string, field: 'verificationUrl' | 'resetUrl'): Promise<string> {
  const rows = await sql<{ payload: Record<string, string> }>(
    `SELECT payload FROM identity.outbox_events WHERE type = $1 AND "aggregateId" = $2 ORDER BY "createdAt" DESC LIMIT 1`,
    [type, userId],
  );
  const url = rows[0]?.payload[field];
  if (!url) throw new Error(`no ${type} event for ${userId}`);
  return new URL(url).searchParams.get('token') ?? '';
}
