import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { unauthenticated } from '@mindweave/errors';
import { prisma } from './db.ts';
import { env } from './env.ts';
import type { UserTokenPurpose } from './generated/prisma/client.ts';

export const accessTokenIssuer = 'mindweave-identity';
export const accessTokenAudience = 'mindweave';
const signingAlgorithm = 'ES256';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const opaqueToken = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

/**
 * The signing key lives in the database so that every identity instance signs with the same key;
 * the first instance to start creates it.
 */
async function loadSigningKey() {
  let row = await prisma.signingKey.findFirst({ orderBy: { createdAt: 'desc' } });
  if (!row) {
    const { privateKey, publicKey } = await generateKeyPair(signingAlgorithm, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: signingAlgorithm, use: 'sig' };
    await prisma.signingKey.createMany({ data: [{ kid, privateJwk: (await exportJWK(privateKey)) as object, publicJwk }], skipDuplicates: true });
    row = await prisma.signingKey.findFirstOrThrow({ orderBy: { createdAt: 'asc' } });
  }
  return { kid: row.kid, privateKey: await importJWK(row.privateJwk as JWK, signingAlgorithm) };
}

let signingKey: ReturnType<typeof loadSigningKey> | undefined;
export const currentSigningKey = () => (signingKey ??= loadSigningKey());

export async function jwks() {
  const keys = await prisma.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
  return { keys: keys.map((key) => key.publicJwk) };
}

export async function issueAccessToken(userId: string) {
  const { kid, privateKey } = await currentSigningKey();
  return new SignJWT({})
    .setProtectedHeader({ alg: signingAlgorithm, kid, typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(accessTokenIssuer)
    .setAudience(accessTokenAudience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${env.ACCESS_TOKEN_TTL_SECONDS}s`)
    .sign(privateKey);
}

/** A new refresh token; a new login starts a new family. */
export async function issueRefreshToken(userId: string, familyId: string = randomUUID()) {
  const token = opaqueToken('mw_rt_');
  await prisma.refreshToken.create({
    data: {
      userId,
      familyId,
      tokenHash: sha256(token),
      expiresAt: new Date(Date.now() + env.REFRESH_TOKEN_TTL_DAYS * 86_400_000),
    },
  });
  return token;
}

export async function issueSession(userId: string) {
  const [accessToken, refreshToken] = await Promise.all([issueAccessToken(userId), issueRefreshToken(userId)]);
  return { accessToken, refreshToken };
}

const invalidRefreshToken = () => unauthenticated('Invalid or expired refresh token');

/**
 * Trades a refresh token for a new pair. Each token works once: a second use means it leaked, so
 * the whole family (every token descended from that login) is revoked.
 */
export async function rotateRefreshToken(token: string) {
  const row = await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row || row.revokedAt || row.expiresAt <= new Date()) throw invalidRefreshToken();
  const claimed = await prisma.refreshToken.updateMany({ where: { id: row.id, usedAt: null }, data: { usedAt: new Date() } });
  if (claimed.count !== 1) {
    await revokeFamily(row.familyId);
    throw unauthenticated('Refresh token was already used; every session of that sign-in has been signed out');
  }
  const [accessToken, refreshToken] = await Promise.all([issueAccessToken(row.userId), issueRefreshToken(row.userId, row.familyId)]);
  return { userId: row.userId, accessToken, refreshToken };
}

export async function revokeFamily(familyId: string) {
  await prisma.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
}

/** Revokes the family of `token`; false when the token is unknown. */
export async function revokeRefreshToken(token: string): Promise<boolean> {
  const row = await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row) return false;
  await revokeFamily(row.familyId);
  return true;
}

const userTokenTtlMs: Record<UserTokenPurpose, number> = {
  EMAIL_VERIFICATION: 7 * 86_400_000,
  PASSWORD_RESET: 3_600_000,
  MFA_LOGIN: 5 * 60_000,
};

/** A single-use token for `purpose`; only its hash is stored. */
export async function createUserToken(userId: string, purpose: UserTokenPurpose, db: Pick<typeof prisma, 'userToken'> = prisma) {
  const token = opaqueToken('mw_ut_');
  await db.userToken.create({
    data: { userId, purpose, tokenHash: sha256(token), expiresAt: new Date(Date.now() + userTokenTtlMs[purpose]) },
  });
  return token;
}

/** Marks the token used and returns its user id, or null when it is unknown, used or expired. */
export async function consumeUserToken(token: string, purpose: UserTokenPurpose): Promise<string | null> {
  const row = await prisma.userToken.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row || row.purpose !== purpose || row.usedAt || row.expiresAt <= new Date()) return null;
  const claimed = await prisma.userToken.updateMany({ where: { id: row.id, usedAt: null }, data: { usedAt: new Date() } });
  return claimed.count === 1 ? row.userId : null;
}
