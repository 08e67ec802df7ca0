import { importJWK, SignJWT, type JWK } from 'jose';
import pg from 'pg';
import { createSecretBox, secretsKey } from '@mindweave/service-kit';
import { stack } from './client.ts';

/** Reads what a service wrote, e.g. the outbox events that carry emails' links. */
export async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function outboxLink(type: string, userId: string, field: 'verificationUrl' | 'resetUrl'): Promise<string> {
  const rows = await sql<{ payload: Record<string, string> }>(
    `SELECT payload FROM identity.outbox_events WHERE type = $1 AND "aggregateId" = $2 ORDER BY "createdAt" DESC LIMIT 1`,
    [type, userId],
  );
  const url = rows[0]?.payload[field];
  if (!url) throw new Error(`no ${type} event for ${userId}`);
  return new URL(url).searchParams.get('token') ?? '';
}

/**
 * An access token for `userId` that expires in `seconds`, signed with identity's current key as
 * identity would sign it (identity itself issues tokens of at least 30 s).
 */
export async function shortLivedAccessToken(userId: string, seconds: number): Promise<string> {
  const [key] = await sql<{ kid: string; privateJwk: { sealed: string } }>(
    'SELECT kid, "privateJwk" FROM identity.signing_keys ORDER BY "createdAt" DESC LIMIT 1',
  );
  const jwk = JSON.parse(
    createSecretBox(secretsKey.parse(process.env['SECRETS_KEY'])).open(key!.privateJwk.sealed, 'access token signing key'),
  ) as JWK;
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: key!.kid, typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('mindweave-identity')
    .setAudience('mindweave')
    .setIssuedAt()
    .setExpirationTime(`${seconds}s`)
    .sign(await importJWK(jwk, 'ES256'));
}
