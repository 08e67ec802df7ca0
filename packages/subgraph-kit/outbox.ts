import pg from 'pg';
import type { EventBus, EventEnvelope } from '@mindweave/events';
import { parseEnvelope } from '@mindweave/events';
import { inTransaction, type Logger } from '@mindweave/service-kit';
import { createPgPool } from './db.ts';

type OutboxRow = { id: string; type: string; aggregateId: string; payload: unknown; createdAt: Date };

/**
 * Relays a subgraph's transactional outbox (`<schema>.outbox_events`, written in the same
 * transaction as the change) to the event bus. Rows are claimed with SKIP LOCKED, so any number of
 * instances can relay; an event keeps its row's id, so a relay that dies after publishing and
 * before marking the row publishes a duplicate that consumers drop.
 */
export function startOutboxRelay(options: {
  databaseUrl: string;
  schema: string;
  bus: EventBus;
  log: Logger;
  intervalMs?: number;
  batchSize?: number;
}) {
  const { bus, log } = options;
  const pool = createPgPool(options.databaseUrl, options.schema, log);
  const table = `${pg.escapeIdentifier(options.schema)}.outbox_events`;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  async function relayOnce(): Promise<number> {
    return inTransaction(pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, type, "aggregateId", payload, "createdAt" FROM ${table} WHERE "publishedAt" IS NULL ORDER BY "createdAt" LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [options.batchSize ?? 200],
      );
      if (rows.length) {
        const events: EventEnvelope[] = [];
        const invalid: string[] = [];
        for (const row of rows) {
          try {
            events.push(
              parseEnvelope({
                id: row.id,
                type: row.type,
                aggregateId: row.aggregateId,
                timestamp: row.createdAt.toISOString(),
                data: row.payload,
                metadata: { correlationId: row.id },
              }),
            );
          } catch (error) {
            invalid.push(row.id);
            log.error(
              { err: error, id: row.id, type: row.type },
              'outbox row is not a valid event; marking it so it does not block the relay',
            );
          }
        }
        if (events.length) await bus.publish(events);
        await client.query(`UPDATE ${table} SET "publishedAt" = now() WHERE id = ANY($1::uuid[])`, [rows.map((r) => r.id)]);
        if (invalid.length) log.warn({ invalid }, 'invalid outbox rows were marked published without being sent');
      }
      return rows.length;
    });
  }

  async function loop() {
    while (!stopped) {
      const relayed = await relayOnce().catch((error: unknown) => {
        log.warn({ err: error }, 'outbox relay failed; retrying');
        return 0;
      });
      if (relayed === 0 && !stopped) await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
    }
  }
  running = loop();

  return {
    async stop() {
      stopped = true;
      await running;
      await pool.end();
    },
  };
}
