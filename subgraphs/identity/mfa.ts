import { authenticator } from 'otplib';
import { resealSecrets, type Logger } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { secretBox } from './secret-box.ts';

// One step of clock drift either way.
authenticator.options = { window: 1 };

const purpose = 'totp seed';

/** A new TOTP seed for the user's app, and its sealed form for `users.mfaSecret`. */
export function newTotpSecret() {
  const secret = authenticator.generateSecret(20);
  return { secret, stored: secretBox.seal(secret, purpose) };
}
export const otpauthUrl = (email: string, secret: string) => authenticator.keyuri(email, 'MindWeave', secret);
/** `stored`: the user's `mfaSecret` as the table holds it. */
export const verifyTotp = (stored: string, code: string) => authenticator.check(code, secretBox.open(stored, purpose));

/** Seals seeds still in clear, or sealed with an older SECRETS_KEY. */
export const resealTotpSecrets = (log: Logger) =>
  resealSecrets({
    box: secretBox,
    log,
    purpose,
    stale: async (currentPrefix, afterId, limit) => {
      const users = await prisma.user.findMany({
        where: { mfaSecret: { not: null }, NOT: { mfaSecret: { startsWith: currentPrefix } }, ...(afterId ? { id: { gt: afterId } } : {}) },
        orderBy: { id: 'asc' },
        take: limit,
        select: { id: true, mfaSecret: true },
      });
      return users.map((user) => ({ id: user.id, stored: user.mfaSecret ?? '' }));
    },
    save: async (row, sealed) =>
      void (await prisma.user.updateMany({ where: { id: row.id, mfaSecret: row.stored }, data: { mfaSecret: sealed } })),
  });
