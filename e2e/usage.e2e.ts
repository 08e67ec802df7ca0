import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { monthOf, monthToDate } from '@mindweave/usage-totals';
import { createTenant, gql, stack, unique } from './client.ts';
import { sql } from './db.ts';

const redis = new Redis(stack.redisUrl, { keyPrefix: stack.env['REDIS_KEY_PREFIX'] ?? '' });
afterAll(() => redis.disconnect());
/** The usage subgraph's Redis key for a claimed idempotency key (subgraphs/usage/idempotency.ts). */
const claimKey = (apiKeyId: string, idempotencyKey: string) =>
  `idem:${apiKeyId}:${createHash('sha256').update(idempotencyKey).digest('base64url')}`;

const recordUsage = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted duplicates } }';
const recordBatch = 'mutation ($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { accepted duplicates } }';
const series =
  'query ($org: ID!, $from: DateTime!, $to: DateTime!, $g: Granularity!) { usageSeries(organizationId: $org, from: $from, to: $to, granularity: $g) { bucket requests inputTokens outputTokens costUsd } }';

const event = (overrides: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  inputTokens: 1_000,
  outputTokens: 500,
  latencyMs: 120,
  ...overrides,
});

/** Polls until `check` passes: events reach the rollups through the consumer, asynchronously. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

const hourRange = () => {
  const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
  return { from: from.toISOString(), to: new Date(from.getTime() + 3 * 3_600_000).toISOString() };
};
const sum = (points: { requests: number }[]) => points.reduce((n, p) => n + p.requests, 0);

describe('recording usage', () => {
  it('takes events from API keys with usage:write only', async () => {
    const tenant = await createTenant();
    expect((await gql(recordUsage, { input: event() }, { token: tenant.apiKey })).data).toEqual({
      recordUsage: { accepted: 1, duplicates: 0 },
    });
    const asUser = await gql(recordUsage, { input: event() }, { token: tenant.user.accessToken });
    expect(asUser.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const readOnly = await createTenant(['usage:read']);
    expect((await gql(recordUsage, { input: event() }, { token: readOnly.apiKey })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('refuses bad events with BAD_USER_INPUT naming the field, and records none of the batch', async () => {
    const tenant = await createTenant();
    const cases: [Record<string, unknown>, string][] = [
      [event({ inputTokens: -1 }), 'input.inputTokens'],
      [event({ outputTokens: 20_000_000 }), 'input.outputTokens'],
      [event({ occurredAt: new Date(Date.now() + 3_600_000).toISOString() }), 'input.occurredAt'],
      [event({ occurredAt: new Date(Date.now() - 40 * 86_400_000).toISOString() }), 'input.occurredAt'],
      [event({ metadata: { blob: 'x'.repeat(5_000) } }), 'input.metadata'],
      [event({ model: '' }), 'input.model'],
    ];
    for (const [input, field] of cases) {
      const result = await gql(recordUsage, { input }, { token: tenant.apiKey });
      expect(result.errors?.[0]?.extensions, field).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const batch = await gql(recordBatch, { inputs: [event(), event(), event({ latencyMs: -5 })] }, { token: tenant.apiKey });
    expect(batch.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs.2.latencyMs' });
    const tooMany = await gql(recordBatch, { inputs: Array.from({ length: 1_001 }, () => event()) }, { token: tenant.apiKey });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs' });

    const { from, to } = hourRange();
    await new Promise((r) => setTimeout(r, 1_000));
    const points = (await gql(series, { org: tenant.organizationId, from, to, g: 'HOUR' }, { token: tenant.apiKey })).data!.usageSeries;
    expect(sum(points)).toBe(0);
  });

  it('counts an idempotency key once, across retries and within a batch, in the rollups too', async () => {
    const tenant = await createTenant();
    const key = unique('idem');
    const inputs = [
      event({ idempotencyKey: `${key}-1` }),
      event({ idempotencyKey: `${key}-2` }),
      event({ idempotencyKey: `${key}-1` }),
      event(),
    ];
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 3, duplicates: 1 },
    });
    expect((await gql(recordBatch, { inputs: inputs.slice(0, 3) }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 0, duplicates: 3 },
    });

    const { from, to } = hourRange();
    const read = async () =>
      (await gql(series, { org: tenant.organizationId, from, to, g: 'HOUR' }, { token: tenant.apiKey })).data!.usageSeries as {
        requests: number;
      }[];
    const points = await eventually(read, (p) => sum(p) >= 3);
    await new Promise((r) => setTimeout(r, 500));
    expect(sum(await read())).toBe(3);
    expect(points).toHaveLength(3);
  });
});

describe('idempotency through faults', () => {
  const persistedOf = async (organizationId: string) =>
    (
      await sql<{ events: string; tokens: string }>(
        'SELECT count(*) AS events, coalesce(sum("inputTokens" + "outputTokens"), 0) AS tokens FROM analytics.usage_events WHERE "organizationId" = $1',
        [organizationId],
      )
    )[0]!;

  it('appends again an event whose claim an attempt left pending, and stores it once', async () => {
    const tenant = await createTenant();
    const keys = [unique('pending'), unique('pending')];
    const inputs = keys.map((idempotencyKey) => event({ idempotencyKey }));
    // What a request that failed between its claim and the log's acknowledgement leaves behind.
    await redis.set(claimKey(tenant.apiKeyId, keys[0]!), 'pending', 'EX', 600);
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 2, duplicates: 0 },
    });
    expect(await redis.get(claimKey(tenant.apiKeyId, keys[0]!))).toBe('recorded');
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 0, duplicates: 2 },
    });
    // Appended twice (an attempt whose append did land, then its retry) still counts once.
    await redis.set(claimKey(tenant.apiKeyId, keys[1]!), 'pending', 'KEEPTTL');
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 1, duplicates: 1 },
    });
    await eventually(
      () => persistedOf(tenant.organizationId),
      (p) => p.events === '2',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await persistedOf(tenant.organizationId)).toEqual({ events: '2', tokens: '3000' });
  });

  it('keeps the month-to-date totals equal to what is stored when a batch is sent again after its keys were lost', async () => {
    const tenant = await createTenant();
    const keys = Array.from({ length: 20 }, () => unique('lost'));
    const inputs = keys.map((idempotencyKey) => event({ idempotencyKey }));
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 20, duplicates: 0 },
    });
    await eventually(
      () => persistedOf(tenant.organizationId),
      (p) => p.events === '20',
    );
    // A flush, an eviction: the claims are gone, so the same batch is taken as new.
    await redis.del(...keys.map((key) => claimKey(tenant.apiKeyId, key)));
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data).toEqual({
      recordUsageBatch: { accepted: 20, duplicates: 0 },
    });
    const month = monthOf(new Date());
    expect(
      (
        await eventually(
          () => monthToDate(redis, tenant.organizationId, month),
          (t) => t.tokens === 30_000,
        )
      ).tokens,
    ).toBe(30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await persistedOf(tenant.organizationId)).toEqual({ events: '20', tokens: '30000' });
    expect((await monthToDate(redis, tenant.organizationId, month)).tokens).toBe(30_000);
  });
});

describe('analytics', () => {
  it('serves series per granularity and a dashboard summary, priced from the price table', async () => {
    const tenant = await createTenant();
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 120_000);
    const inputs = [
      event({ model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 1_000_000, occurredAt: at.toISOString() }), // 2.50 + 10.00
      event({ model: 'gpt-4o', inputTokens: 2_000, outputTokens: 0, occurredAt: new Date(at.getTime() + 61_000).toISOString() }), // 0.005
      event({ model: 'home-grown-model', inputTokens: 10, outputTokens: 10, occurredAt: at.toISOString() }), // unknown: 0
    ];
    expect((await gql(recordBatch, { inputs }, { token: tenant.apiKey })).data!.recordUsageBatch.accepted).toBe(3);

    const from = new Date(at.getTime() - 60_000).toISOString();
    const to = new Date(at.getTime() + 3 * 60_000).toISOString();
    const minutes = await eventually(
      async () =>
        (await gql(series, { org: tenant.organizationId, from, to, g: 'MINUTE' }, { token: tenant.user.accessToken })).data!
          .usageSeries as { bucket: string; requests: number; inputTokens: number; costUsd: number }[],
      (p) => sum(p) === 3,
    );
    expect(minutes.map((p) => [p.bucket, p.requests, p.inputTokens, p.costUsd])).toEqual([
      [new Date(at.getTime() - 60_000).toISOString(), 0, 0, 0],
      [at.toISOString(), 2, 1_000_010, 12.5],
      [new Date(at.getTime() + 60_000).toISOString(), 1, 2_000, 0.005],
      [new Date(at.getTime() + 120_000).toISOString(), 0, 0, 0],
    ]);

    const summary = await gql(
      'query ($id: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $id) { usage(from: $from, to: $to) { totals { requests costUsd } topModels(limit: 2) { model totals { requests } } costByProject { project { id name } totals { costUsd } } } } }',
      { id: tenant.organizationId, from, to },
      { token: tenant.user.accessToken },
    );
    expect(summary.errors).toBeUndefined();
    expect(summary.data!.organization.usage).toEqual({
      totals: { requests: 3, costUsd: 12.505 },
      topModels: [
        { model: 'gpt-4o', totals: { requests: 2 } },
        { model: 'home-grown-model', totals: { requests: 1 } },
      ],
      costByProject: [{ project: { id: tenant.projectId, name: 'Project' }, totals: { costUsd: 12.505 } }],
    });
  });

  it("keeps one tenant's usage from another", async () => {
    const a = await createTenant();
    const b = await createTenant();
    const { from, to } = hourRange();
    const result = await gql(series, { org: a.organizationId, from, to, g: 'HOUR' }, { token: b.user.accessToken });
    expect(result.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect((await gql(series, { org: a.organizationId, from, to, g: 'HOUR' }, { token: b.apiKey })).errors?.[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );
  });

  it('refuses ranges too long for their granularity', async () => {
    const tenant = await createTenant();
    const result = await gql(
      series,
      { org: tenant.organizationId, from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z', g: 'MINUTE' },
      { token: tenant.apiKey },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
  });
});
