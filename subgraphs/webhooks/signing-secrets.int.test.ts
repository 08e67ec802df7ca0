import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { createLogger, createSecretBox, secretsKey } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { signingSecretPurpose } from './deliveries.ts';
import { resealSigningSecrets } from './signing-secrets.ts';

const log = createLogger({ name: 'secrets-test', level: 'silent' });

// What a webhooks instance does at start-up to secrets written in clear by a version before sealing.
it('reseals signing secrets stored in clear, and leaves them alone once sealed', async () => {
  const box = createSecretBox(secretsKey.parse(process.env['SECRETS_KEY']));
  const endpoint = await prisma.webhookEndpoint.create({
    data: {
      organizationId: randomUUID(),
      url: 'https://example.com/hook',
      eventTypes: ['usage.recorded'],
      secret: 'whsec_in_clear',
      createdById: randomUUID(),
    },
  });
  expect((await resealSigningSecrets(log)).resealed).toBeGreaterThanOrEqual(1);
  const { secret } = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
  expect(secret.startsWith(box.currentPrefix)).toBe(true);
  expect(box.open(secret, signingSecretPurpose)).toBe('whsec_in_clear');
  // Nothing left to do for it the second time. (Other tests' rows share the table: only this one is checked.)
  expect((await resealSigningSecrets(log)).unreadable).not.toContain(endpoint.id);
  expect((await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).secret).toBe(secret);
  await prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
});
