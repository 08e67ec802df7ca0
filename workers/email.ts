import nodemailer from 'nodemailer';
import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Directory } from './directory.ts';
import { templates, type RenderedEmail } from './email-templates.ts';

/** SMTP through nodemailer, on a small pool of connections. */
export function createMailer(options: { smtpUrl: string; from: string }) {
  const transport = nodemailer.createTransport(options.smtpUrl, { pool: true, maxConnections: 5 } as Parameters<
    typeof nodemailer.createTransport
  >[1]);
  return {
    async send(to: string[], email: RenderedEmail, headers: Record<string, string> = {}): Promise<string> {
      const info = await transport.sendMail({
        from: options.from,
        to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers,
      });
      return info.messageId;
    },
    verify: () => transport.verify(),
    close: () => transport.close(),
  };
}

export type Mailer = ReturnType<typeof createMailer>;

type Sent = { sent: number; messageId?: string; reason?: string };

/** The email queue's jobs: render the template, find the recipients, send. */
export function emailProcessors(deps: { mailer: Mailer; directory: Directory; appUrl: string; log: Logger }): Processors<'email'> {
  const { mailer, directory } = deps;
  const link = (path: string) => new URL(path, deps.appUrl).toString();
  // A header receivers (and tests) can match on; a retried job sends the same one.
  const tagged = (job: { id?: string | undefined }) => ({ 'X-MindWeave-Job': job.id ?? '' });

  async function toMembers(
    organizationId: string,
    roles: ('OWNER' | 'ADMIN')[],
    render: (organizationName: string) => RenderedEmail,
    job: { id?: string | undefined },
  ): Promise<Sent> {
    const { organization, recipients } = await directory.members(organizationId, roles);
    if (!organization || recipients.length === 0) return { sent: 0, reason: organization ? 'no recipients' : 'unknown organization' };
    const messageId = await mailer.send(
      recipients.map((user) => user.email),
      render(organization.name),
      tagged(job),
    );
    return { sent: recipients.length, messageId };
  }

  return {
    welcome: async (data, job) => ({ sent: 1, messageId: await mailer.send([data.to], templates.welcome(data), tagged(job)) }),
    'password-reset': async (data, job) => ({
      sent: 1,
      messageId: await mailer.send([data.to], templates.passwordReset(data), tagged(job)),
    }),
    'email-verification': async (data, job) => ({
      sent: 1,
      messageId: await mailer.send([data.to], templates.verification(data), tagged(job)),
    }),
    'quota-alert': (data, job) =>
      toMembers(
        data.organizationId,
        ['OWNER', 'ADMIN'],
        (organizationName) =>
          templates.quotaAlert({ ...data, organizationName, dashboardUrl: link(`/organizations/${data.organizationId}/usage`) }),
        job,
      ),
    'policy-violation': (data, job) =>
      toMembers(
        data.organizationId,
        ['OWNER', 'ADMIN'],
        (organizationName) =>
          templates.policyViolation({ ...data, organizationName, dashboardUrl: link(`/organizations/${data.organizationId}/policies`) }),
        job,
      ),
    'webhook-disabled': (data, job) =>
      toMembers(
        data.organizationId,
        ['OWNER'],
        (organizationName) =>
          templates.webhookDisabled({ ...data, organizationName, dashboardUrl: link(`/organizations/${data.organizationId}/webhooks`) }),
        job,
      ),
    invitation: async (data, job) => {
      // The inviter's name, when identity can tell; the invitation goes out either way.
      const [inviter] = await directory.users([data.invitedBy]).catch(() => []);
      const acceptUrl = `${link('/invitations/accept')}?${new URLSearchParams({ token: data.token })}`;
      const email = templates.invitation({
        organizationName: data.organizationName,
        inviterName: inviter?.name ?? null,
        role: data.role,
        acceptUrl,
        expiresAt: data.expiresAt,
      });
      return { sent: 1, messageId: await mailer.send([data.to], email, tagged(job)) };
    },
    'export-ready': async (data, job) => {
      // An export requested with an API key has no user to tell.
      const [user] = await directory.users([data.requestedBy]);
      if (!user) return { sent: 0, reason: 'requested by an API key' };
      const email = templates.exportReady({
        name: user.name,
        exportId: data.exportId,
        status: data.status,
        dashboardUrl: link(`/organizations/${data.organizationId}/exports`),
      });
      return { sent: 1, messageId: await mailer.send([user.email], email, tagged(job)) };
    },
  };
}
