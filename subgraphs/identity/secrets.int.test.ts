import { randomBytes, randomUUID } from 'node:crypto';
import { authenticator } from 'otplib';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { resealTotpSecrets, verifyTotp } from './mfa.ts';
import { secretBox } from './secret-box.ts';
import { resealSigningKeys } from './tokens.ts';

const log = createLogger({ name: 'secrets-test', level: 'silent' });

// What an identity instance does at start-up to rows written in clear by a version before sealing.
const legacyKid = `legacy-${randomUUID()}`;
afterAll(() => prisma.signingKey.deleteMany({ where: { kid: legacyKid } }));

it('reseals TOTP seeds stored in clear, which keep verifying codes', async () => {
  const seed = authenticator.generateSecret(20);
  const user = await prisma.user.create({
    data: {
      email: `legacy-${randomBytes(4).toString('hex')}@example.com`,
      name: 'Legacy',
      passwordHash: 'x',
      mfaSecret: seed,
      mfaEnabledAt: new Date(),
    },
  });
  expect(verifyTotp(seed, authenticator.generate(seed))).toBe(true);

  expect((await resealTotpSecrets(log)).resealed).toBeGreaterThanOrEqual(1);
  const { mfaSecret } = await prisma.user.findUniqueOrThrow({ where: { id: user.id } });
  expect(mfaSecret?.startsWith(secretBox.currentPrefix)).toBe(true);
  expect(mfaSecret).not.toContain(seed);
  expect(verifyTotp(mfaSecret!, authenticator.generate(seed))).toBe(true);
  // Nothing left to do for it the second time. (Other tests' rows share the table: only this one is checked.)
  expect((await resealTotpSecrets(log)).unreadable).not.toContain(user.id);
  expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).mfaSecret).toBe(mfaSecret);
});

it('reseals private signing keys stored in clear', async () => {
  const privateJwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'the private part' };
  // Long ago, so that no instance takes it for its current key.
  await prisma.signingKey.create({
    data: { kid: legacyKid, privateJwk, publicJwk: { kid: legacyKid }, createdAt: new Date('2000-01-01') },
  });
  expect((await resealSigningKeys(log)).resealed).toBeGreaterThanOrEqual(1);
  const row = await prisma.signingKey.findUniqueOrThrow({ where: { kid: legacyKid } });
  const sealed = (row.privateJwk as { sealed: string }).sealed;
  expect(Object.keys(row.privateJwk as object)).toEqual(['sealed']);
  expect(JSON.stringify(row.privateJwk)).not.toContain('the private part');
  expect(JSON.parse(secretBox.open(sealed, 'access token signing key'))).toEqual(privateJwk);
  expect((await resealSigningKeys(log)).unreadable).not.toContain(legacyKid);
  expect((await prisma.signingKey.findUniqueOrThrow({ where: { kid: legacyKid } })).privateJwk).toEqual(row.privateJwk);
});
