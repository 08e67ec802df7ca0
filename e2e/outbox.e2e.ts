import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { eventsOfEntry, type EventEnvelope } from '../packages/events/index.ts';
import { registerUser, stack } from './client.ts';
import { sql } from './db.ts';

const redis = new Redis(stack.redisUrl, { keyPrefix: stack.env['REDIS_KEY_PREFIX'] });
afterAll(() => redis.quit());

it("relays identity's outbox to the event bus: user.created reaches mindweave.user.events", async () => {
  const user = await registerUser();
  let entry: EventEnvelope | undefined;
  const deadline = Date.now() + 10_000;
  while (!entry && Date.now() < deadline) {
    const entries = await redis.xrevrange('mindweave.user.events', '+', '-', 'COUNT', 200);
    entry = entries.flatMap(([, fields]) => eventsOfEntry(fields)).find((event) => event.aggregateId === user.userId);
    if (!entry) await new Promise((r) => setTimeout(r, 100));
  }
  expect(entry).toBeDefined();
  const envelope = entry!;
  expect(envelope).toMatchObject({
    type: 'user.created',
    aggregateId: user.userId,
    data: { email: user.email, verificationUrl: expect.stringContaining('/verify-email?token=') },
  });
  const [row] = await sql<{ id: string; publishedAt: Date | null }>('SELECT id, "publishedAt" FROM identity.outbox_events WHERE id = $1', [
    envelope.id,
  ]);
  expect(row?.publishedAt).toBeInstanceOf(Date);
});
