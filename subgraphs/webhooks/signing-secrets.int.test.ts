import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { createSecretBox, secretsKey } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { signingSecretPurpose } from './deliveries.ts';
import { resealSigningSecrets } from './signing-secrets.ts';

// What a webhooks instance does at start-up to secrets written in clear by a version before sealing.
it('reseals signing secrets stored in clear, and leaves sealed ones alone', async () => {
  const box = createSecretBox(secretsKey.parse(process.env['SECRETS_KEY']));
  const endpoint = await prisma.webhookEndpoint.create({
    data: { organizationId: randomUUID(), url: 'https://example.com/hook', eventTypes: ['usage.recorded'], secret: 'whsec_in_clear', createdById: randomUUID() },
  });
  expect((await resealSigningSecrets()).resealed).toBeGreaterThanOrEqual(1);
  const { secret } = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
  expect(secret.startsWith(box.currentPrefix)).toBe(true);
  expect(box.open(secret, signingSecretPurpose)).toBe('whsec_in_clear');
  const again = await resealSigningSecrets();
  expect(again.resealed).toBe(0);
  expect(again.unreadable).not.toContain(endpoint.id);
  await prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
});
