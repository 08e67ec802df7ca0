// Every email as a subject, a plain-text part and an HTML part, from the same few lines.

export type RenderedEmail = { subject: string; text: string; html: string };

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

interface Layout {
  subject: string;
  greeting: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  footer?: string;
}

function render({ subject, greeting, paragraphs, action, footer }: Layout): RenderedEmail {
  const text = [
    greeting,
    '',
    ...paragraphs.flatMap((p) => [p, '']),
    ...(action ? [`${action.label}: ${action.url}`, ''] : []),
    footer ?? '— MindWeave',
  ].join('\n');
  const html = `<!doctype html>
<html><body style="font-family: -apple-system, Segoe UI, sans-serif; color: #1f2328; max-width: 560px; margin: 24px auto; line-height: 1.5">
<p>${escapeHtml(greeting)}</p>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${action ? `<p><a href="${escapeHtml(action.url)}" style="display: inline-block; padding: 10px 16px; background: #4f46e5; color: #fff; border-radius: 6px; text-decoration: none">${escapeHtml(action.label)}</a></p>\n<p style="font-size: 12px; color: #656d76">Or open ${escapeHtml(action.url)}</p>` : ''}
<p style="font-size: 12px; color: #656d76">${escapeHtml(footer ?? '— MindWeave')}</p>
</body></html>`;
  return { subject, text, html };
}

const formatTokens = (value: number) => value.toLocaleString('en-US');

export const templates = {
  welcome: (data: { name: string; verificationUrl: string }) =>
    render({
      subject: 'Welcome to MindWeave: confirm your email',
      greeting: `Hi ${data.name},`,
      paragraphs: ['Welcome to MindWeave. Confirm your email address to finish setting up your account; the link works for 7 days.'],
      action: { label: 'Confirm my email', url: data.verificationUrl },
      footer: "If you didn't sign up, ignore this email. — MindWeave",
    }),

  passwordReset: (data: { name: string; resetUrl: string }) =>
    render({
      subject: 'Reset your MindWeave password',
      greeting: `Hi ${data.name},`,
      paragraphs: [
        'Someone asked to reset the password of your MindWeave account. The link works once, for one hour; using it signs out every session.',
      ],
      action: { label: 'Choose a new password', url: data.resetUrl },
      footer: "If it wasn't you, ignore this email: your password stays as it is. — MindWeave",
    }),

  verification: (data: { name: string; verificationUrl: string }) =>
    render({
      subject: 'Confirm your email for MindWeave',
      greeting: `Hi ${data.name},`,
      paragraphs: ['Confirm your email address with the link below; it works for 7 days.'],
      action: { label: 'Confirm my email', url: data.verificationUrl },
    }),

  quotaAlert: (data: {
    organizationName: string;
    threshold: number;
    tokens: number;
    quota: number;
    plan: string;
    month: string;
    dashboardUrl: string;
  }) =>
    render({
      subject:
        data.threshold >= 100
          ? `${data.organizationName} has used its monthly token quota`
          : `${data.organizationName} has used ${data.threshold}% of its monthly token quota`,
      greeting: 'Hello,',
      paragraphs: [
        `${data.organizationName} has used ${formatTokens(data.tokens)} of the ${formatTokens(data.quota)} tokens its ${data.plan} plan includes for ${data.month} (${data.threshold}% reached).`,
        data.threshold >= 100
          ? 'Consider upgrading the plan; usage above the quota is reported on the next invoice.'
          : 'You will get one more notice if the quota is reached this month.',
      ],
      action: { label: 'See usage', url: data.dashboardUrl },
      footer: 'You get this as an owner or admin of the organization. — MindWeave',
    }),

  exportReady: (data: { name: string; exportId: string; status: string; dashboardUrl: string }) =>
    data.status === 'SUCCEEDED'
      ? render({
          subject: 'Your MindWeave export is ready',
          greeting: `Hi ${data.name},`,
          paragraphs: [
            `Export ${data.exportId} is ready. Ask exportJob(id: "${data.exportId}") for its download link, which works for 15 minutes at a time.`,
          ],
          action: { label: 'Open exports', url: data.dashboardUrl },
        })
      : render({
          subject: 'Your MindWeave export failed',
          greeting: `Hi ${data.name},`,
          paragraphs: [
            `Export ${data.exportId} could not be completed. Request it again; if it keeps failing, contact support with its id.`,
          ],
        }),

  policyViolation: (data: { organizationName: string; policyName: string; model?: string; reason: string; dashboardUrl: string }) =>
    render({
      subject: `Policy "${data.policyName}" refused usage in ${data.organizationName}`,
      greeting: 'Hello,',
      paragraphs: [`The policy "${data.policyName}" refused a request${data.model ? ` for ${data.model}` : ''}: ${data.reason}`],
      action: { label: 'Review policies', url: data.dashboardUrl },
      footer: 'You get this as an owner or admin of the organization. — MindWeave',
    }),

  webhookDisabled: (data: { organizationName: string; url: string; failures: number; dashboardUrl: string }) =>
    render({
      subject: `A webhook endpoint of ${data.organizationName} was disabled`,
      greeting: 'Hello,',
      paragraphs: [
        `The endpoint ${data.url} failed ${data.failures} deliveries in a row, so MindWeave stopped sending it events.`,
        'Fix the receiver, then turn it back on with enableWebhookEndpoint; events sent while it was disabled are not replayed.',
      ],
      action: { label: 'Open webhooks', url: data.dashboardUrl },
      footer: 'You get this as an owner of the organization. — MindWeave',
    }),

  invitation: (data: { organizationName: string; inviterName: string | null; role: string; acceptUrl: string; expiresAt: string }) =>
    render({
      subject: `You are invited to join ${data.organizationName} on MindWeave`,
      greeting: 'Hello,',
      paragraphs: [
        `${data.inviterName ?? 'A member'} invited you to join ${data.organizationName} as ${data.role.toLowerCase()}.`,
        `Sign in (or create your account) with this email address, then accept with the link below. It works once, until ${data.expiresAt.slice(0, 10)}.`,
      ],
      action: { label: 'Accept the invitation', url: data.acceptUrl },
      footer: "If you don't know them, ignore this email: nothing happens without you. — MindWeave",
    }),
};
