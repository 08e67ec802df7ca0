import { randomBytes } from 'node:crypto';
import { createSecretBox, resealSecrets, type Logger } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { signingSecretPurpose } from './deliveries.ts';
import { env } from './env.ts';

// Endpoints' signing secrets are kept sealed (README: Secrets at rest); the workers open them to sign.
const secretBox = createSecretBox(env.SECRETS_KEY);

/** A new signing secret, shown once to its creator, and the sealed form the table keeps. */
export function newSigningSecret() {
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  return { secret, stored: secretBox.seal(secret, signingSecretPurpose) };
}

/** Seals secrets still in clear, or sealed with an older SECRETS_KEY. */
export const resealSigningSecrets = (log: Logger) =>
  resealSecrets({
    box: secretBox,
    log,
    purpose: signingSecretPurpose,
    stale: async (currentPrefix, afterId, limit) => {
      const endpoints = await prisma.webhookEndpoint.findMany({
        where: { NOT: { secret: { startsWith: currentPrefix } }, ...(afterId ? { id: { gt: afterId } } : {}) },
        orderBy: { id: 'asc' },
        take: limit,
        select: { id: true, secret: true },
      });
      return endpoints.map((endpoint) => ({ id: endpoint.id, stored: endpoint.secret }));
    },
    save: async (row, sealed) =>
      void (await prisma.webhookEndpoint.updateMany({ where: { id: row.id, secret: row.stored }, data: { secret: sealed } })),
  });
