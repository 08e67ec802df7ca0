import { describe, expect, it, vi } from 'vitest';
import { createTenant, gql, registerUser, testPassword } from './client.ts';
import { linkIn, messagesTo, waitForMail } from './mail.ts';

describe('emails', () => {
  it('sends the welcome email with a working verification link after register, once', async () => {
    const user = await registerUser('Welcome Tester');
    const [welcome] = await waitForMail(user.email, (m) => m.subject.startsWith('Welcome'));
    expect(welcome!.subject).toBe('Welcome to MindWeave: confirm your email');
    expect(welcome!.text).toContain('Hi Welcome Tester,');
    expect(welcome!.html).toContain('<a href="http://localhost:3000/verify-email?token=');
    const link = linkIn(welcome!, 'http://localhost:3000/verify-email');
    expect((await gql('mutation ($t: String!) { verifyEmail(token: $t) }', { t: link.searchParams.get('token') })).data).toEqual({
      verifyEmail: true,
    });
    // Events are delivered at least once; the email is not sent twice.
    await new Promise((done) => setTimeout(done, 1_000));
    expect((await messagesTo(user.email)).filter((m) => m.subject.startsWith('Welcome'))).toHaveLength(1);
  });

  it('sends the password reset email, whose link resets the password', async () => {
    const user = await registerUser();
    expect((await gql('mutation ($e: String!) { requestPasswordReset(email: $e) }', { e: user.email })).data).toEqual({
      requestPasswordReset: true,
    });
    const [reset] = await waitForMail(user.email, (m) => m.subject === 'Reset your MindWeave password');
    expect(reset!.text).toMatch(/works once, for one hour/);
    const token = linkIn(reset!, 'http://localhost:3000/reset-password').searchParams.get('token');
    const newPassword = 'a freshly reset password';
    expect(
      (await gql('mutation ($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }', { t: token, p: newPassword })).data,
    ).toEqual({ resetPassword: true });
    const login = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }';
    expect((await gql(login, { input: { email: user.email, password: newPassword } })).data?.login.accessToken).toBeTruthy();
    expect((await gql(login, { input: { email: user.email, password: testPassword } })).errors?.[0]?.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('sends a new verification email when asked again', async () => {
    const user = await registerUser();
    await waitForMail(user.email, (m) => m.subject.startsWith('Welcome'));
    expect((await gql('mutation { resendEmailVerification }', {}, { token: user.accessToken })).data).toEqual({
      resendEmailVerification: true,
    });
    const [again] = await waitForMail(user.email, (m) => m.subject === 'Confirm your email for MindWeave');
    expect(linkIn(again!, 'http://localhost:3000/verify-email').searchParams.get('token')).toMatch(/^mw_ut_/);
  });
});

describe('policy violation emails', () => {
  it("tell the organization's owners when a policy refuses usage, once an hour per policy", async () => {
    const tenant = await createTenant();
    const policy = await gql(
      'mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }',
      { input: { organizationId: tenant.organizationId, name: 'No 4o', type: 'MODEL_DENYLIST', rules: { models: ['gpt-4o'] } } },
      { token: tenant.user.accessToken },
    );
    expect(policy.errors).toBeUndefined();
    const record = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }';
    const denied = { model: 'gpt-4o', inputTokens: 10, outputTokens: 0, latencyMs: 1 };
    // The usage path learns of the new policy within a moment.
    await vi.waitFor(
      async () =>
        expect((await gql(record, { input: denied }, { token: tenant.apiKey })).errors?.[0]?.extensions.code).toBe('POLICY_VIOLATION'),
      { timeout: 10_000, interval: 200 },
    );
    await gql(record, { input: denied }, { token: tenant.apiKey });
    const [alert] = await waitForMail(tenant.user.email, (m) => m.subject === 'Policy "No 4o" refused usage in Tenant');
    expect(alert!.text).toContain('The policy "No 4o" refused a request');
    expect(alert!.text).toContain('gpt-4o');
    await new Promise((done) => setTimeout(done, 1_500));
    expect((await messagesTo(tenant.user.email)).filter((m) => m.subject.startsWith('Policy'))).toHaveLength(1);
  });
});
