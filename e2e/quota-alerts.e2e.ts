import { describe, expect, it } from 'vitest';
import { createTenant, gql } from './client.ts';
import { messagesTo, waitForMail } from './mail.ts';

const recordUsage = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }';
const use = (apiKey: string, inputTokens: number, outputTokens = 0) =>
  gql(recordUsage, { input: { model: 'gpt-4o-mini', inputTokens, outputTokens, latencyMs: 10 } }, { token: apiKey });

describe('quota alerts', () => {
  it("emails the organization's owners once at 80% and once at 100% of the monthly token quota", { timeout: 60_000 }, async () => {
    // A new organization is on FREE: 1,000,000 tokens a month in the test stack (PLAN_QUOTAS_JSON's default).
    const tenant = await createTenant();
    const plan = await gql(
      'query ($id: ID!) { organization(id: $id) { plan } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken },
    );
    expect(plan.data).toEqual({ organization: { plan: 'FREE' } });
    const isAlert = (share: string) => (m: { subject: string }) =>
      m.subject === (share === '100' ? 'Tenant has used its monthly token quota' : `Tenant has used ${share}% of its monthly token quota`);

    expect((await use(tenant.apiKey, 500_000, 299_999)).data).toEqual({ recordUsage: { accepted: 1 } });
    await new Promise((done) => setTimeout(done, 1_500));
    expect((await messagesTo(tenant.user.email)).filter(isAlert('80'))).toHaveLength(0);

    await use(tenant.apiKey, 1);
    const [eighty] = await waitForMail(tenant.user.email, isAlert('80'));
    expect(eighty!.text).toContain('800,000 of the 1,000,000 tokens its FREE plan includes');
    await use(tenant.apiKey, 100_000);
    await use(tenant.apiKey, 150_000);
    const [full] = await waitForMail(tenant.user.email, isAlert('100'));
    expect(full!.text).toContain('1,050,000 of the 1,000,000 tokens');
    await use(tenant.apiKey, 10_000);
    await use(tenant.apiKey, 10);

    await new Promise((done) => setTimeout(done, 2_000));
    const alerts = (await messagesTo(tenant.user.email)).filter((m) => m.subject.includes('monthly token quota'));
    expect(alerts.map((m) => m.subject).sort()).toEqual([
      'Tenant has used 80% of its monthly token quota',
      'Tenant has used its monthly token quota',
    ]);
  });
});
