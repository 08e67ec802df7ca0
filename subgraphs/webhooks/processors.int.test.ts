import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { UnrecoverableError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsConnection, createProducers, verifyWebhookSignature, webhookHeaders } from '@mindweave/jobs';
import { createLogger, createSecretBox, secretsKey } from '@mindweave/service-kit';
import { signingSecretPurpose } from './deliveries.ts';
import { createWebhooks } from './processors.ts';

const db = new pg.Pool({ connectionString: process.env['DATABASE_URL'] });
const prefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}webhooks-test-${randomBytes(4).toString('hex')}:bull`;
const connection = createJobsConnection(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', 'producer', 'webhooks-test');
const producers = createProducers(connection, { prefix });
const log = createLogger({ name: 'webhooks-test', level: 'silent' });
// The stack's keys, as the workers and the webhooks subgraph share them.
const secretBox = createSecretBox(secretsKey.parse(process.env['SECRETS_KEY']));

let status = 500;
let lastRequest: { signature: string | undefined; body: string } | undefined;
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    lastRequest = { signature: req.headers[webhookHeaders.signature] as string | undefined, body };
    res.writeHead(status).end(status === 200 ? 'ok' : 'down');
  });
});
let url = '';

beforeAll(async () => {
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});
afterAll(async () => {
  await producers.close();
  const raw = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const keys = await raw.keys(`${prefix}:*`);
  if (keys.length) await raw.del(...keys);
  raw.disconnect();
  connection.disconnect();
  await db.end();
  await new Promise((done) => receiver.close(done));
});

/** An endpoint whose secret is stored as the webhooks subgraph stores it (`stored`), sealed unless told otherwise. */
async function endpoint(target: string, stored = secretBox.seal('whsec_test', signingSecretPurpose)) {
  const organizationId = randomUUID();
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO webhooks.webhook_endpoints (id, "organizationId", url, "eventTypes", secret, "createdById") VALUES (gen_random_uuid(), $1, $2, '{usage.recorded}', $4, $3) RETURNING id`,
    [organizationId, target, randomUUID(), stored],
  );
  return { id: rows[0]!.id, organizationId };
}

const job = (attemptsMade: number) => ({ attemptsMade, opts: { attempts: 5 } }) as unknown as Job;
const delivery = (endpointId: string) => ({ endpointId, eventId: randomUUID(), eventType: 'usage.recorded', body: '{"hello":"world"}' });
const state = async (id: string) =>
  (await db.query('SELECT enabled, "consecutiveFailures", "disabledReason" FROM webhooks.webhook_endpoints WHERE id = $1', [id])).rows[0];

describe('webhook deliveries', () => {
  it('signs with the secret opened from its sealed form, and with one stored in clear by an older version', async () => {
    const webhooks = createWebhooks({ db, secretBox, producers, log, allowPrivate: true, timeoutMs: 2_000, disableAfter: 3, cacheMs: 0 });
    status = 200;
    for (const target of [await endpoint(url), await endpoint(url, 'whsec_test')]) {
      lastRequest = undefined;
      await expect(webhooks.processors.deliver(delivery(target.id), job(0))).resolves.toMatchObject({ httpStatus: 200 });
      expect(verifyWebhookSignature({ secret: 'whsec_test', header: lastRequest!.signature, body: lastRequest!.body })).toMatchObject({
        ok: true,
      });
    }
    await webhooks.close();
  });

  it('disables an endpoint after N deliveries in a row fail every attempt, once, with a notice to its owners', async () => {
    const webhooks = createWebhooks({ db, secretBox, producers, log, allowPrivate: true, timeoutMs: 2_000, disableAfter: 3, cacheMs: 0 });
    const target = await endpoint(url);
    status = 500;
    // A failed attempt that will be retried does not count: only a delivery that failed them all.
    await expect(webhooks.processors.deliver(delivery(target.id), job(0))).rejects.toThrow('the receiver answered 500');
    expect(await state(target.id)).toMatchObject({ enabled: true, consecutiveFailures: 0 });
    await expect(webhooks.processors.deliver(delivery(target.id), job(4))).rejects.toThrow();
    await expect(webhooks.processors.deliver(delivery(target.id), job(4))).rejects.toThrow();
    expect(await state(target.id)).toMatchObject({ enabled: true, consecutiveFailures: 2 });
    // A success resets the run.
    status = 200;
    await expect(webhooks.processors.deliver(delivery(target.id), job(1))).resolves.toMatchObject({ httpStatus: 200, attempt: 2 });
    expect(await state(target.id)).toMatchObject({ consecutiveFailures: 0 });

    status = 500;
    for (let i = 0; i < 3; i++) await expect(webhooks.processors.deliver(delivery(target.id), job(4))).rejects.toThrow();
    expect(await state(target.id)).toEqual({ enabled: false, consecutiveFailures: 3, disabledReason: '3 deliveries in a row failed' });
    // Disabled: later deliveries are skipped, not attempted.
    await expect(webhooks.processors.deliver(delivery(target.id), job(0))).resolves.toEqual({ skipped: 'endpoint disabled' });
    const notices = (await producers.queues.email.getJobs(['prioritized', 'waiting', 'delayed'])).filter(
      (j) => j.name === 'webhook-disabled' && j.data.endpointId === target.id,
    );
    expect(notices.map((j) => j.data)).toEqual([{ organizationId: target.organizationId, endpointId: target.id, url, failures: 3 }]);
    const attempts = await db.query('SELECT attempt, status FROM webhooks.webhook_deliveries WHERE "endpointId" = $1', [target.id]);
    expect(attempts.rowCount).toBe(7);
    await webhooks.close();
  });

  it('refuses private destinations when they are not allowed, without retrying, and logs why', async () => {
    const webhooks = createWebhooks({ db, secretBox, producers, log, allowPrivate: false, timeoutMs: 2_000, disableAfter: 20, cacheMs: 0 });
    const target = await endpoint(url);
    const attempt = webhooks.processors.deliver(delivery(target.id), job(0));
    await expect(attempt).rejects.toBeInstanceOf(UnrecoverableError);
    const { rows } = await db.query('SELECT status, "httpStatus", error FROM webhooks.webhook_deliveries WHERE "endpointId" = $1', [
      target.id,
    ]);
    expect(rows).toEqual([
      { status: 'FAILED', httpStatus: null, error: expect.stringMatching(/private, loopback, link-local or otherwise non-public/) },
    ]);
    await webhooks.close();
  });

  it('refuses NAT64 and 6to4 destinations at delivery, which lead to private IPv4 addresses', async () => {
    const webhooks = createWebhooks({ db, secretBox, producers, log, allowPrivate: false, timeoutMs: 2_000, disableAfter: 20, cacheMs: 0 });
    for (const target of ['http://[64:ff9b::a00:1]/hook', 'http://[2002:a00:1::]/hook']) {
      const { id } = await endpoint(target);
      await expect(webhooks.processors.deliver(delivery(id), job(0))).rejects.toBeInstanceOf(UnrecoverableError);
      const { rows } = await db.query('SELECT error FROM webhooks.webhook_deliveries WHERE "endpointId" = $1', [id]);
      expect(rows, target).toEqual([{ error: expect.stringMatching(/non-public address/) }]);
    }
    await webhooks.close();
  });
});
