import { afterAll, describe, expect, it, vi } from 'vitest';
import { createJobsConnection, createProducers, jobsPrefix } from '@mindweave/jobs';
import { createTenant, gql, stack } from './client.ts';
import { sql } from './db.ts';

// Jobs go to the test stack's own queues, which its worker process serves.
const connection = createJobsConnection(stack.redisUrl, 'producer', 'billing-e2e');
const producers = createProducers(connection, { prefix: jobsPrefix(stack.env['REDIS_KEY_PREFIX'] ?? '') });
afterAll(async () => {
  await producers.close();
  connection.disconnect();
});

async function run(name: 'monthly-billing' | 'daily-aggregation', data: Record<string, string>) {
  const job = await producers.add('analytics', name, data as never);
  await vi.waitFor(async () => expect(await producers.queues.analytics.getJobState(job.id!)).toBe('completed'), {
    timeout: 15_000,
    interval: 100,
  });
  return (await producers.queues.analytics.getJob(job.id!))!.returnvalue as Record<string, unknown>;
}

const invoices =
  'query ($id: ID!) { organization(id: $id) { invoices { month periodStart periodEnd requests inputTokens outputTokens costUsd } } }';

describe('billing', () => {
  it("turns an organization's usage of a month into one invoice, however many times the month is closed", async () => {
    const tenant = await createTenant();
    const bucket = (iso: string, requests: number, cost: number) => [
      tenant.organizationId,
      iso,
      tenant.projectId,
      'gpt-4o',
      requests,
      requests * 100,
      requests * 10,
      cost,
    ];
    // A month long past, so that no other test's usage falls in it; and usage outside it.
    for (const row of [
      bucket('2025-06-01 00:00:00', 3, 0.25),
      bucket('2025-06-15 12:30:00', 2, 1.5),
      bucket('2025-06-30 23:59:00', 5, 0.125),
      bucket('2025-07-01 00:00:00', 7, 9),
    ]) {
      await sql(
        `INSERT INTO analytics.usage_minutes ("organizationId", bucket, "projectId", model, requests, "inputTokens", "outputTokens", "costUsd") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        row,
      );
    }
    const first = await run('monthly-billing', { month: '2025-06' });
    const second = await run('monthly-billing', { month: '2025-06' });
    expect(first).toMatchObject({ month: '2025-06' });
    expect(first['created']).toBeGreaterThanOrEqual(1);
    expect(second).toEqual({ month: '2025-06', created: 0 });

    const result = await gql(invoices, { id: tenant.organizationId }, { token: tenant.user.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data!.organization.invoices).toEqual([
      {
        month: '2025-06',
        periodStart: '2025-06-01T00:00:00.000Z',
        periodEnd: '2025-07-01T00:00:00.000Z',
        requests: 10,
        inputTokens: 1_000,
        outputTokens: 100,
        costUsd: 1.875,
      },
    ]);
    const rows = await sql<{ count: string }>('SELECT count(*) FROM analytics.invoices WHERE "organizationId" = $1', [
      tenant.organizationId,
    ]);
    expect(rows[0]?.count).toBe('1');
  });

  it('shows invoices to owners and admins only', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    expect((await gql(invoices, { id: tenant.organizationId }, { token: tenant.apiKey })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await gql(invoices, { id: tenant.organizationId }, { token: other.user.accessToken })).errors?.[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );
  });

  it('rolls a day of usage up into per-day totals, the same however often it runs', async () => {
    const tenant = await createTenant();
    await sql(
      `INSERT INTO analytics.usage_minutes ("organizationId", bucket, "projectId", model, requests, "inputTokens", "outputTokens", "costUsd") VALUES ($1, '2025-05-04 10:00:00', $2, 'a', 4, 40, 4, 0.5), ($1, '2025-05-04 23:59:00', $2, 'b', 1, 10, 1, 0.25)`,
      [tenant.organizationId, tenant.projectId],
    );
    await run('daily-aggregation', { day: '2025-05-04' });
    await run('daily-aggregation', { day: '2025-05-04' });
    const rows = await sql('SELECT requests::int, "inputTokens"::int, "costUsd" FROM analytics.usage_days WHERE "organizationId" = $1', [
      tenant.organizationId,
    ]);
    expect(rows).toEqual([{ requests: 5, inputTokens: 50, costUsd: 0.75 }]);
  });
});
