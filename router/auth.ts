import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Redis } from 'ioredis';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { unauthenticated, unavailable } from '@mindweave/errors';
import { postAsService, type Identity, type Logger } from '@mindweave/service-kit';

const apiKeyPrefix = 'mw_sk_';
// What the identity subgraph signs access tokens with (subgraphs/identity/tokens.ts).
const accessTokenIssuer = 'mindweave-identity';
const accessTokenAudience = 'mindweave';

type Credential = { kind: 'jwt'; token: string } | { kind: 'apiKey'; key: string } | null;

/** `Authorization: Bearer <jwt|key>`, `Authorization: <key>` or `x-api-key: <key>`. */
export function credentialOf(headers: IncomingHttpHeaders): Credential {
  const apiKeyHeader = headers['x-api-key'];
  if (typeof apiKeyHeader === 'string' && apiKeyHeader) return { kind: 'apiKey', key: apiKeyHeader.trim() };
  const authorization = headers.authorization?.trim();
  if (!authorization) return null;
  const value = authorization.replace(/^Bearer\s+/i, '');
  return value.startsWith(apiKeyPrefix) ? { kind: 'apiKey', key: value } : { kind: 'jwt', token: value };
}

type ApiKeyIdentity = Extract<Identity, { kind: 'apiKey' }>;

export interface AuthenticatorOptions {
  jwksUrl: string;
  accountsUrl: string;
  signingSecret: string;
  redis: Redis;
  apiKeyCacheTtlSeconds: number;
  log: Logger;
}

/**
 * Establishes who is calling: a user (JWT checked against the identity subgraph's JWKS, no shared
 * secret) or an API key (resolved by the accounts subgraph, cached briefly in Redis). No
 * credential means anonymous; a bad one is refused with UNAUTHENTICATED.
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  const { redis, log } = options;
  // The signing keys are not revoked, so the set fetched once stays good: it is fetched again only
  // for a key id it does not hold, and an identity outage does not turn away valid tokens.
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: Infinity });

  // An ECDSA verification is the costliest step of a request; a token verified once stays valid
  // until it expires (access tokens cannot be revoked), so its result is kept until then.
  const verifiedTokens = new LRUCache<string, { identity: Identity; expiresAt: number }>({ max: 20_000 });

  async function verifyJwt(token: string): Promise<Identity> {
    const known = verifiedTokens.get(token);
    if (known && known.expiresAt > Date.now()) return known.identity;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: accessTokenIssuer, audience: accessTokenAudience, algorithms: ['ES256'] }));
    } catch (error) {
      // The key set could not be fetched (identity down or slow): the token was not judged.
      if (!(error instanceof joseErrors.JOSEError) || error.code === 'ERR_JWKS_TIMEOUT' || error.code === 'ERR_JOSE_GENERIC') {
        log.warn({ err: error }, 'access token not checked: the signing keys could not be fetched');
        throw unavailable('The access token could not be checked right now; retry shortly');
      }
      log.debug({ err: error }, 'access token refused');
      throw unauthenticated('Invalid or expired access token');
    }
    if (!payload.sub || !payload.exp) throw unauthenticated('Invalid or expired access token');
    const identity: Identity = { kind: 'user', userId: payload.sub };
    verifiedTokens.set(token, { identity, expiresAt: payload.exp * 1000 });
    return identity;
  }

  // What was last known of each key, for while accounts cannot be asked: a key in use keeps working
  // through an accounts outage (a revocation made during one takes effect when it ends). Kept 15
  // minutes from the last answer, and forgotten as soon as accounts or the shared cache says invalid.
  const lastKnownKeys = new LRUCache<string, ApiKeyIdentity>({ max: 50_000, ttl: 15 * 60_000 });

  async function resolveApiKey(key: string, requestId: string): Promise<ApiKeyIdentity | null> {
    const response = await postAsService(new URL('/internal/api-keys/verify', options.accountsUrl), { signingSecret: options.signingSecret, service: 'router', requestId, body: { key }, timeoutMs: 3_000 });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`accounts answered ${response.status}`);
    const body = (await response.json()) as Omit<ApiKeyIdentity, 'kind'>;
    return { kind: 'apiKey', apiKeyId: body.apiKeyId, projectId: body.projectId, organizationId: body.organizationId, scopes: body.scopes };
  }

  /** The key's identity, or null for an unknown or revoked key; throws when neither can be told. */
  async function lookUpApiKey(key: string, requestId: string): Promise<ApiKeyIdentity | null> {
    // The same key derivation as accounts' apiKeyCacheKey, so that a revocation can evict it.
    const cacheKey = `apikey:${createHash('sha256').update(key).digest('hex')}`;
    // While Redis is down, ask accounts every time rather than wait for Redis to time out.
    const cacheUp = redis.status === 'ready';
    const cached = cacheUp
      ? await redis.get(cacheKey).catch((error: unknown) => {
          log.warn({ err: error }, 'API key cache unavailable; asking accounts directly');
          return null;
        })
      : null;
    if (cached === 'invalid') {
      lastKnownKeys.delete(cacheKey);
      return null;
    }
    if (cached !== null) {
      const known = JSON.parse(cached) as ApiKeyIdentity;
      lastKnownKeys.set(cacheKey, known);
      return known;
    }
    let identity: ApiKeyIdentity | null;
    try {
      identity = await resolveApiKey(key, requestId);
    } catch (error) {
      const known = lastKnownKeys.get(cacheKey);
      if (!known) throw error;
      log.warn({ err: error, apiKeyId: known.apiKeyId }, 'accounts unreachable; API key taken as accounts last answered');
      return known;
    }
    if (identity) lastKnownKeys.set(cacheKey, identity);
    else lastKnownKeys.delete(cacheKey);
    if (cacheUp) await redis.set(cacheKey, identity ? JSON.stringify(identity) : 'invalid', 'EX', options.apiKeyCacheTtlSeconds).catch(() => undefined);
    return identity;
  }

  async function verifyApiKey(key: string, requestId: string): Promise<Identity> {
    const identity = await lookUpApiKey(key, requestId).catch((error: unknown) => {
      log.error({ err: error }, 'could not resolve API key');
      throw unavailable('The API key could not be checked right now; retry shortly');
    });
    if (!identity) throw unauthenticated('Invalid or revoked API key');
    return identity;
  }

  async function authenticate(headers: IncomingHttpHeaders, requestId: string): Promise<Identity> {
    const credential = credentialOf(headers);
    if (!credential) return { kind: 'anonymous' };
    return credential.kind === 'jwt' ? verifyJwt(credential.token) : verifyApiKey(credential.key, requestId);
  }

  /**
   * Whether an API key that authenticated a long-lived connection has been revoked since; false
   * when accounts cannot tell right now (the connection is given the benefit of the doubt).
   */
  async function apiKeyRevoked(key: string, requestId: string): Promise<boolean> {
    return lookUpApiKey(key, requestId).then(
      (identity) => identity === null,
      () => false,
    );
  }

  return { authenticate, apiKeyRevoked };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

