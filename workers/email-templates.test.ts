import { describe, expect, it } from 'vitest';
import { templates } from './email-templates.ts';

describe('email templates', () => {
  it('render a subject, a text part and an HTML part with the link in both', () => {
    const email = templates.passwordReset({ name: 'Ada', resetUrl: 'https://app.example/reset-password?token=mw_ut_abc&x=1' });
    expect(email.subject).toBe('Reset your MindWeave password');
    expect(email.text).toContain('Hi Ada,');
    expect(email.text).toContain('Choose a new password: https://app.example/reset-password?token=mw_ut_abc&x=1');
    expect(email.html).toContain('href="https://app.example/reset-password?token=mw_ut_abc&#38;x=1"');
  });

  it('escape what users wrote in the HTML part', () => {
    const email = templates.welcome({ name: '<script>alert(1)</script>', verificationUrl: 'https://app.example/verify' });
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&#60;script&#62;');
    expect(email.text).toContain('<script>alert(1)</script>');
  });

  it('invite with the link, the organization, the inviter and the role', () => {
    const email = templates.invitation({
      organizationName: 'Acme',
      inviterName: 'Ada',
      role: 'ADMIN',
      acceptUrl: 'https://app.example/invitations/accept?token=mw_inv_x',
      expiresAt: '2026-03-08T10:00:00.000Z',
    });
    expect(email.subject).toBe('You are invited to join Acme on MindWeave');
    expect(email.text).toContain('Ada invited you to join Acme as admin.');
    expect(email.text).toContain('Accept the invitation: https://app.example/invitations/accept?token=mw_inv_x');
    expect(email.text).toContain('until 2026-03-08');
  });

  it('say which threshold of the quota was reached', () => {
    const base = {
      organizationName: 'Acme',
      tokens: 812_345,
      quota: 1_000_000,
      plan: 'FREE',
      month: '2026-03',
      dashboardUrl: 'https://app.example/usage',
    };
    expect(templates.quotaAlert({ ...base, threshold: 80 }).subject).toBe('Acme has used 80% of its monthly token quota');
    expect(templates.quotaAlert({ ...base, threshold: 100 }).subject).toBe('Acme has used its monthly token quota');
    expect(templates.quotaAlert({ ...base, threshold: 80 }).text).toContain('812,345 of the 1,000,000 tokens');
  });
});
