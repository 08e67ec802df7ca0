import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createEvent } from '@mindweave/events';
import { createJobsConnection, createProducers } from '@mindweave/jobs';
import { createLogger, createRedis } from '@mindweave/service-kit';
import { countInFlight } from '@mindweave/usage-totals';
import type { Directory } from './directory.ts';
import { createQuotaAlerts } from './quota-alerts.ts';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const keyPrefix = `${process.env['REDIS_KEY_PREFIX'] ?? ''}quota-test-${randomBytes(4).toString('hex')}:`;
const redis = createRedis(redisUrl, keyPrefix);
const connection = createJobsConnection(redisUrl, 'producer', 'quota-test');
const producers = createProducers(connection, { prefix: `${keyPrefix}bull` });
afterAll(async () => {
  await producers.close();
  const raw = new Redis(redisUrl);
  const keys = await raw.keys(`${keyPrefix}*`);
  if (keys.length) await raw.del(...keys);
  raw.disconnect();
  connection.disconnect();
  redis.disconnect();
});

let lookups = 0;
const directory = {
  organization: async (id: string) => {
    lookups += 1;
    return { id, name: 'Org', plan: 'FREE', members: [] };
  },
} as unknown as Directory;
const quota = createQuotaAlerts({
  redis,
  directory,
  producers,
  quotas: { FREE: 1_000, PRO: 100_000 },
  log: createLogger({ name: 'quota-test', level: 'silent' }),
});

const usage = (organizationId: string, tokens: number) =>
  createEvent('usage.recorded', 'p', {
    organizationId,
    projectId: 'p',
    apiKeyId: 'k',
    model: 'm',
    inputTokens: tokens,
    outputTokens: 0,
    latencyMs: 1,
    costUsd: 0,
    unpricedModel: false,
    occurredAt: '2026-03-10T10:00:00.000Z',
    metadata: null,
  });

const alertsOf = async (organizationId: string) =>
  (await producers.queues.email.getJobs(['prioritized', 'waiting']))
    .filter((job) => job.data.organizationId === organizationId)
    .map((job) => job.data.threshold as number)
    .sort((a, b) => a - b);

/** What the usage subgraph does as it ingests: the event is counted in flight, then it is in the log. */
async function ingested(organizationId: string, tokens: number) {
  const event = usage(organizationId, tokens);
  await countInFlight(redis, organizationId, [{ id: event.id, ...event.data }]);
  return event;
}

describe('quota alerts', () => {
  it('reads the totals counted at ingestion, and far below any quota asks nobody', async () => {
    const org = randomUUID();
    const events = [await ingested(org, 100), await ingested(org, 200)];
    await quota.record(events);
    await quota.record(events);
    expect(lookups).toBe(0);
    expect(await alertsOf(org)).toEqual([]);
  });

  it('alerts once at 80% and once at 100% per month, redeliveries and later events included', async () => {
    const org = randomUUID();
    const first = await ingested(org, 850);
    await quota.record([first]);
    await quota.record([first]);
    expect(await alertsOf(org)).toEqual([80]);
    await quota.record([await ingested(org, 100)]);
    expect(await alertsOf(org)).toEqual([80]);
    const over = await ingested(org, 60);
    await quota.record([over, await ingested(org, 5)]);
    await quota.record([over]);
    await quota.record([await ingested(org, 1)]);
    expect(await alertsOf(org)).toEqual([80, 100]);
    const [, full] = (await producers.queues.email.getJobs(['prioritized', 'waiting']))
      .filter((job) => job.data.organizationId === org)
      .sort((a, b) => a.data.threshold - b.data.threshold);
    expect(full?.data).toMatchObject({ threshold: 100, tokens: 1_015, quota: 1_000, month: '2026-03' });
  });

  it("looks at each event's own month and organization", async () => {
    const org = randomUUID();
    await countInFlight(redis, org, [
      { id: randomUUID(), occurredAt: '2026-02-10T10:00:00.000Z', inputTokens: 5_000, outputTokens: 0, costUsd: 0 },
    ]);
    await quota.record([usage(org, 1)]);
    expect(await alertsOf(org)).toEqual([]);
  });
});
