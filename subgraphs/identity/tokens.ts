import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { unauthenticated } from '@mindweave/errors';
import { recordEndedSessions, resealSecrets, type Logger } from '@mindweave/service-kit';
import { prisma } from './db.ts';
import { env } from './env.ts';
import { Prisma, type UserTokenPurpose } from './generated/prisma/client.ts';
import { redis } from './redis.ts';
import { secretBox } from './secret-box.ts';

export const accessTokenIssuer = 'mindweave-identity';
export const accessTokenAudience = 'mindweave';
const signingAlgorithm = 'ES256';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const opaqueToken = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

const signingKeyPurpose = 'access token signing key';

/** `privateJwk` holds `{ "sealed": "<the JWK's JSON, sealed>" }`; rows from before sealing hold the JWK itself. */
const storedPrivateJwk = Prisma.sql`COALESCE("privateJwk"->>'sealed', "privateJwk"::text)`;
const privateJwkOf = (stored: Prisma.JsonValue): JWK => {
  const sealed = (stored as { sealed?: unknown } | null)?.sealed;
  return typeof sealed === 'string' ? (JSON.parse(secretBox.open(sealed, signingKeyPurpose)) as JWK) : (stored as JWK);
};

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
    const privateJwk = { sealed: secretBox.seal(JSON.stringify(await exportJWK(privateKey)), signingKeyPurpose) };
    await prisma.signingKey.createMany({ data: [{ kid, privateJwk, publicJwk }], skipDuplicates: true });
    row = await prisma.signingKey.findFirstOrThrow({ orderBy: { createdAt: 'asc' } });
  }
  return { kid: row.kid, privateKey: await importJWK(privateJwkOf(row.privateJwk), signingAlgorithm) };
}

/** Seals private keys still in clear, or sealed with an older SECRETS_KEY. */
export const resealSigningKeys = (log: Logger) =>
  resealSecrets({
    box: secretBox,
    log,
    purpose: signingKeyPurpose,
    stale: (currentPrefix, afterId, limit) =>
      prisma.$queryRaw<{ id: string; stored: string }[]>`
        SELECT kid AS id, ${storedPrivateJwk} AS stored FROM identity.signing_keys
        WHERE NOT starts_with(${storedPrivateJwk}, ${currentPrefix}) AND kid > ${afterId ?? ''} ORDER BY kid LIMIT ${limit}`,
    save: async (row, sealed) =>
      void (await prisma.$executeRaw`
        UPDATE identity.signing_keys SET "privateJwk" = jsonb_build_object('sealed', ${sealed}::text)
        WHERE kid = ${row.id} AND ${storedPrivateJwk} = ${row.stored}`),
  });

let signingKey: ReturnType<typeof loadSigningKey> | undefined;
export const currentSigningKey = () => (signingKey ??= loadSigningKey());

export async function jwks() {
  const keys = await prisma.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
  return { keys: keys.map((key) => key.publicJwk) };
}

/**
 * An access token for `userId` in session `sessionId` (the refresh-token family of the sign-in,
 * as the `sid` claim): ending the session (logout, a password reset, a reused refresh token) makes
 * routers refuse it before it expires.
 */
export async function issueAccessToken(userId: string, sessionId: string) {
  const { kid, privateKey } = await currentSigningKey();
  return new SignJWT({ sid: sessionId })
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
  const sessionId = randomUUID();
  const [accessToken, refreshToken] = await Promise.all([issueAccessToken(userId, sessionId), issueRefreshToken(userId, sessionId)]);
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
    await endSessions(row.userId, [row.familyId], 'refresh_token_reused');
    throw unauthenticated('Refresh token was already used; every session of that sign-in has been signed out');
  }
  const [accessToken, refreshToken] = await Promise.all([
    issueAccessToken(row.userId, row.familyId),
    issueRefreshToken(row.userId, row.familyId),
  ]);
  return { userId: row.userId, accessToken, refreshToken };
}

type SessionEnd = 'logout' | 'password_reset' | 'refresh_token_reused';

/**
 * Ends sessions of a user: their refresh tokens are revoked and, in the same transaction, a
 * `user.session_ended` event is written, on which every router refuses the sessions' access tokens
 * (router/revocations.ts). `change` runs in that transaction too. Redis is told at once as well,
 * for routers that start before the event reaches them, without waiting for it: if Redis is down
 * the event still carries it once the outbox relay can publish again.
 */
export async function endSessions(
  userId: string,
  sessionIds: string[],
  reason: SessionEnd,
  change?: (tx: Prisma.TransactionClient) => Promise<unknown>,
) {
  const until = Date.now() + env.ACCESS_TOKEN_TTL_SECONDS * 1000;
  await prisma.$transaction(async (tx) => {
    await change?.(tx);
    await tx.refreshToken.updateMany({ where: { userId, familyId: { in: sessionIds }, revokedAt: null }, data: { revokedAt: new Date() } });
    if (sessionIds.length) {
      await tx.outboxEvent.create({
        data: {
          type: 'user.session_ended',
          aggregateId: userId,
          payload: { userId, sessionIds, reason, until: new Date(until).toISOString() },
        },
      });
    }
  });
  void recordEndedSessions(redis, sessionIds, until).catch(() => undefined);
}

/**
 * The sessions of a user that may still hold a valid access token: each access token is issued
 * with a refresh token of its session, so those with one issued within an access token's lifetime
 * (and a minute for clocks).
 */
export async function liveSessionsOf(userId: string, db: Pick<Prisma.TransactionClient, 'refreshToken'> = prisma): Promise<string[]> {
  const since = new Date(Date.now() - env.ACCESS_TOKEN_TTL_SECONDS * 1000 - 60_000);
  const rows = await db.refreshToken.findMany({
    where: { userId, createdAt: { gte: since } },
    distinct: ['familyId'],
    select: { familyId: true },
  });
  return rows.map((row) => row.familyId);
}

/** Ends the session of `token` (logout); false when the token is unknown. */
export async function revokeRefreshToken(token: string): Promise<boolean> {
  const row = await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row) return false;
  await endSessions(row.userId, [row.familyId], 'logout');
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
