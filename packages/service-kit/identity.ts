import { createHmac, timingSafeEqual } from 'node:crypto';

/** Who is asking, as established by the router and forwarded, signed, to every subgraph. */
export type Identity =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string }
  | { kind: 'apiKey'; apiKeyId: string; projectId: string; organizationId: string; scopes: string[] }
  | { kind: 'service'; service: string };

export const identityHeaders = {
  identity: 'x-mw-identity',
  requestId: 'x-request-id',
  signedAt: 'x-mw-signed-at',
  signature: 'x-mw-signature',
} as const;

/** A signature older than this is refused, which bounds the replay of a captured request. */
const maxSignatureAgeMs = 5 * 60_000;

function sign(secret: string, signedAt: string, requestId: string, identity: string) {
  return createHmac('sha256', secret).update(`v1.${signedAt}.${requestId}.${identity}`).digest('base64url');
}

export function signIdentity(secret: string, identity: Identity, requestId: string, now = Date.now()): Record<string, string> {
  const encoded = Buffer.from(JSON.stringify(identity)).toString('base64url');
  const signedAt = String(now);
  return {
    [identityHeaders.identity]: encoded,
    [identityHeaders.requestId]: requestId,
    [identityHeaders.signedAt]: signedAt,
    [identityHeaders.signature]: sign(secret, signedAt, requestId, encoded),
  };
}

type HeaderSource = { get(name: string): string | null };

/** The identity the router signed, or null when the headers are missing, stale or forged. */
export function verifyIdentity(secret: string, headers: HeaderSource, now = Date.now()): { identity: Identity; requestId: string } | null {
  const encoded = headers.get(identityHeaders.identity);
  const requestId = headers.get(identityHeaders.requestId) ?? '';
  const signedAt = headers.get(identityHeaders.signedAt);
  const signature = headers.get(identityHeaders.signature);
  if (!encoded || !signedAt || !signature) return null;
  const age = now - Number(signedAt);
  if (!Number.isFinite(age) || Math.abs(age) > maxSignatureAgeMs) return null;
  const expected = Buffer.from(sign(secret, signedAt, requestId, encoded));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    return { identity: JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Identity, requestId };
  } catch {
    return null;
  }
}
