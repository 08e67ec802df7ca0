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

/** The exact bytes of a request's body (a string is sent as UTF-8); a GET's is empty. */
export type SignedBody = string | Uint8Array;

/**
 * The HMAC covers the time, the request id, the encoded identity and the body itself, so captured
 * headers cannot be replayed with another operation or payload within their five minutes. One
 * pass over the body: no separate digest of it.
 */
function sign(secret: string, signedAt: string, requestId: string, identity: string, body: SignedBody) {
  return createHmac('sha256', secret).update(`v2.${signedAt}.${requestId}.${identity}.`).update(body).digest('base64url');
}

/** The identity as it travels in `x-mw-identity`; encode once and reuse it for every request of an operation. */
export const encodeIdentity = (identity: Identity) => Buffer.from(JSON.stringify(identity)).toString('base64url');

/**
 * Headers that vouch for `identity` on one request whose body is `body`, byte for byte.
 * `encoded` is encodeIdentity(identity), when the caller has it already.
 */
export function signIdentity(
  secret: string,
  identity: Identity,
  requestId: string,
  body: SignedBody,
  now = Date.now(),
  encoded = encodeIdentity(identity),
): Record<string, string> {
  const signedAt = String(now);
  return {
    [identityHeaders.identity]: encoded,
    [identityHeaders.requestId]: requestId,
    [identityHeaders.signedAt]: signedAt,
    [identityHeaders.signature]: sign(secret, signedAt, requestId, encoded, body),
  };
}

type HeaderSource = { get(name: string): string | null };

/** The identity the router signed for this body, or null when the headers are missing, stale or forged, or the body is another. */
export function verifyIdentity(
  secret: string,
  headers: HeaderSource,
  body: SignedBody,
  now = Date.now(),
): { identity: Identity; requestId: string } | null {
  const encoded = headers.get(identityHeaders.identity);
  const requestId = headers.get(identityHeaders.requestId) ?? '';
  const signedAt = headers.get(identityHeaders.signedAt);
  const signature = headers.get(identityHeaders.signature);
  if (!encoded || !signedAt || !signature) return null;
  const age = now - Number(signedAt);
  if (!Number.isFinite(age) || Math.abs(age) > maxSignatureAgeMs) return null;
  const expected = Buffer.from(sign(secret, signedAt, requestId, encoded, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    return { identity: JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Identity, requestId };
  } catch {
    return null;
  }
}

/**
 * A POST of `body` as JSON to another service's internal route (`/internal/...`), signed as
 * `service` over the exact bytes sent.
 */
export function postAsService(
  url: URL | string,
  options: { signingSecret: string; service: string; requestId: string; body: unknown; timeoutMs: number },
): Promise<Response> {
  const body = JSON.stringify(options.body);
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...signIdentity(options.signingSecret, { kind: 'service', service: options.service }, options.requestId, body),
    },
    body,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
}
