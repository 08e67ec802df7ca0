import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsOfEntry } from '../packages/events/index.ts';
import { createTenant, gql, stack } from './client.ts';

const createPolicy = 'mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id name type enabled } }';
const record = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted rejected violations { policyName } } }';
const recordBatch =
  'mutation ($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { accepted rejected duplicates violations { index code policyName enforcing } } }';
const series =
  'query ($org: ID!, $from: DateTime!, $to: DateTime!) { usageSeries(organizationId: $org, from: $from, to: $to, granularity: HOUR) { requests } }';

const redis = new Redis(stack.redisUrl, { keyPrefix: stack.env['REDIS_KEY_PREFIX'] });
afterAll(() => redis.quit());

type Tenant = Awaited<ReturnType<typeof createTenant>>;
async function policy(tenant: Tenant, name: string, type: string, rules: unknown, extra: Record<string, unknown> = {}) {
  const result = await gql(
    createPolicy,
    { input: { organizationId: tenant.organizationId, name, type, rules, ...extra } },
    { token: tenant.user.accessToken },
  );
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.createPolicy as { id: string };
}
const event = (model: string, inputTokens = 1_000) => ({ model, inputTokens, outputTokens: 0, latencyMs: 5 });
const requestsCounted = async (tenant: Tenant) => {
  const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
  const to = new Date(from.getTime() + 3 * 3_600_000);
  const result = await gql(
    series,
    { org: tenant.organizationId, from: from.toISOString(), to: to.toISOString() },
    { token: tenant.apiKey },
  );
  return (result.data!.usageSeries as { requests: number }[]).reduce((n, p) => n + p.requests, 0);
};
const settle = () => new Promise((r) => setTimeout(r, 1_000));

describe('policies enforced on the usage path', () => {
  it('refuses a denied model with POLICY_VIOLATION naming the policy, and does not count it', async () => {
    const tenant = await createTenant();
    await policy(tenant, 'No 4o', 'MODEL_DENYLIST', { models: ['gpt-4o'] });
    await settle();
    const denied = await gql(record, { input: event('gpt-4o') }, { token: tenant.apiKey });
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'POLICY_VIOLATION', policyName: 'No 4o' });
    expect(denied.errors?.[0]?.message).toContain('No 4o');
    expect((await gql(record, { input: event('gpt-4o-mini') }, { token: tenant.apiKey })).data!.recordUsage.accepted).toBe(1);
    await settle();
    expect(await requestsCounted(tenant)).toBe(1);
  });

  it('lets a batch through up to a spend limit and refuses the rest', async () => {
    const tenant = await createTenant();
    await policy(tenant, 'One dollar', 'SPEND_LIMIT', { maxUsdPerMonth: 1 });
    await settle();
    // gpt-4o input costs 2.50 USD per million tokens: 160,000 tokens cost 0.40.
    const result = await gql(recordBatch, { inputs: Array.from({ length: 5 }, () => event('gpt-4o', 160_000)) }, { token: tenant.apiKey });
    expect(result.errors).toBeUndefined();
    expect(result.data!.recordUsageBatch).toMatchObject({ accepted: 2, rejected: 3, duplicates: 0 });
    expect(result.data!.recordUsageBatch.violations.map((v: { index: number }) => v.index)).toEqual([2, 3, 4]);
    expect(result.data!.recordUsageBatch.violations[0]).toMatchObject({
      code: 'POLICY_VIOLATION',
      policyName: 'One dollar',
      enforcing: true,
    });
    // The month's spend is now 0.80: a 0.40 event crosses the limit, a 0.10 one does not.
    expect(
      (await gql(recordBatch, { inputs: [event('gpt-4o', 160_000), event('gpt-4o', 40_000)] }, { token: tenant.apiKey })).data!
        .recordUsageBatch,
    ).toMatchObject({ accepted: 1, rejected: 1 });
    await settle();
    expect(await requestsCounted(tenant)).toBe(3);
  });

  it('lets a retry through that its own first attempt brought up to the limit, and counts it once', async () => {
    const tenant = await createTenant();
    await policy(tenant, 'Two thousand tokens', 'TOKEN_LIMIT', { maxTokensPerMonth: 2_000 });
    await settle();
    const input = { ...event('gpt-4o-mini', 1_500), idempotencyKey: 'near-the-limit' };
    expect((await gql(recordBatch, { inputs: [input] }, { token: tenant.apiKey })).data!.recordUsageBatch).toMatchObject({
      accepted: 1,
      rejected: 0,
    });
    // Its answer was lost (subgraphs/usage/idempotency.ts): the claim stays pending, and the retry finds the month at 1,500 tokens.
    await redis.set(`idem:${tenant.apiKeyId}:${createHash('sha256').update('near-the-limit').digest('base64url')}`, 'pending', 'KEEPTTL');
    expect((await gql(recordBatch, { inputs: [input] }, { token: tenant.apiKey })).data!.recordUsageBatch).toMatchObject({
      accepted: 1,
      rejected: 0,
      duplicates: 0,
    });
    // A new event would cross the limit: refused.
    expect(
      (await gql(recordBatch, { inputs: [event('gpt-4o-mini', 1_000)] }, { token: tenant.apiKey })).data!.recordUsageBatch,
    ).toMatchObject({ accepted: 0, rejected: 1 });
    await settle();
    expect(await requestsCounted(tenant)).toBe(1);
  });

  it('records audit-only violations and lets the events through', async () => {
    const tenant = await createTenant();
    await policy(tenant, 'Watch 4o', 'MODEL_DENYLIST', { models: ['gpt-4o'] }, { enforcing: false });
    await settle();
    const result = await gql(recordBatch, { inputs: [event('gpt-4o')] }, { token: tenant.apiKey });
    expect(result.data!.recordUsageBatch).toMatchObject({
      accepted: 1,
      rejected: 0,
      violations: [{ index: 0, policyName: 'Watch 4o', enforcing: false }],
    });
  });

  it('follows policy changes within a second, and emits policy.violated', async () => {
    const tenant = await createTenant();
    expect((await gql(record, { input: event('claude-3-opus') }, { token: tenant.apiKey })).data!.recordUsage.accepted).toBe(1);
    const created = await policy(tenant, 'No opus', 'MODEL_DENYLIST', { models: ['claude-3-opus'] });
    await settle();
    expect((await gql(record, { input: event('claude-3-opus') }, { token: tenant.apiKey })).errors?.[0]?.extensions.code).toBe(
      'POLICY_VIOLATION',
    );

    const entries = await redis.xrevrange('mindweave.policy.events', '+', '-', 'COUNT', 500);
    const violated = entries
      .flatMap(([, fields]) => eventsOfEntry(fields))
      .find((e) => e.type === 'policy.violated' && 'policyId' in e.data && e.data.policyId === created.id);
    expect(violated).toBeDefined();
  });
});
