import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Redis } from 'ioredis';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { verifyApiKeyRoute } from '@mindweave/accounts/internal-routes';
import { unauthenticated, unavailable } from '@mindweave/errors';
import { callInternalRoute, nullOn404, type Identity, type Logger } from '@mindweave/service-kit';
import type { SessionRevocations } from './revocations.ts';

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

/** A key as accounts resolves it: its identity and when the presented secret stops working, if it does. */
type ResolvedKey = { identity: ApiKeyIdentity; expiresAtMs: number | null };
/** What accounts answers (and the shared cache keeps). */
type VerifiedKey = Omit<ApiKeyIdentity, 'kind'> & { expiresAt?: string | null };

const resolvedKeyOf = (body: VerifiedKey): ResolvedKey => ({
  identity: {
    kind: 'apiKey',
    apiKeyId: body.apiKeyId,
    projectId: body.projectId,
    organizationId: body.organizationId,
    scopes: body.scopes,
  },
  expiresAtMs: body.expiresAt ? Date.parse(body.expiresAt) : null,
});
const verifiedKeyOf = ({ identity: { kind: _kind, ...key }, expiresAtMs }: ResolvedKey): VerifiedKey => ({
  ...key,
  expiresAt: expiresAtMs === null ? null : new Date(expiresAtMs).toISOString(),
});
const live = (key: ResolvedKey | null, now = Date.now()) => (key && (key.expiresAtMs === null || key.expiresAtMs > now) ? key : null);

/** Where the shared cache keeps a key, by its SHA-256: accounts' apiKeyCacheKey, so that a change there can evict it. */
const cacheKeyOf = (keyHash: string) => `apikey:${keyHash}`;
const apiKeyCacheKey = (key: string) => cacheKeyOf(createHash('sha256').update(key).digest('hex'));

/** Who a credential stands for, and what ends it: the session of an access token, the expiry of either. */
export type Authentication = { identity: Identity; sessionId?: string; expiresAtMs?: number };

export interface AuthenticatorOptions {
  jwksUrl: string;
  accountsUrl: string;
  signingSecret: string;
  redis: Redis;
  apiKeyCacheTtlSeconds: number;
  /** Sessions ended before their access tokens expired. */
  sessions: SessionRevocations;
  log: Logger;
}

/**
 * Establishes who is calling: a user (JWT checked against the identity subgraph's JWKS, no shared
 * secret, and its session not ended) or an API key (resolved by the accounts subgraph, cached
 * briefly in Redis). No credential means anonymous; a bad one is refused with UNAUTHENTICATED.
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  const { redis, sessions, log } = options;
  // The signing keys are not revoked, so the set fetched once stays good: it is fetched again only
  // for a key id it does not hold, and an identity outage does not turn away valid tokens.
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: Infinity });

  // An ECDSA verification is the costliest step of a request; a token verified once stays valid
  // until it expires or its session ends (checked on every use), so its result is kept until then.
  const verifiedTokens = new LRUCache<string, Required<Authentication>>({ max: 20_000 });

  async function verifyJwt(token: string): Promise<Authentication> {
    let known = verifiedTokens.get(token);
    if (!known || known.expiresAtMs <= Date.now()) {
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
      // Tokens issued before sessions were named carry no `sid`: they live out their short lifetime.
      known = {
        identity: { kind: 'user', userId: payload.sub },
        sessionId: typeof payload['sid'] === 'string' ? payload['sid'] : '',
        expiresAtMs: payload.exp * 1000,
      };
      verifiedTokens.set(token, known);
    }
    if (known.sessionId && sessions.isEnded(known.sessionId)) throw unauthenticated('The session was ended; sign in again');
    return known;
  }

  // What was last known of each key, for while accounts cannot be asked: a key in use keeps working
  // through an accounts outage (a revocation made during one takes effect when it ends, unless its
  // event arrives first). Kept 15 minutes from the last answer, and forgotten as soon as accounts,
  // the shared cache or an event says it changed.
  const lastKnownKeys = new LRUCache<string, ResolvedKey>({ max: 50_000, ttl: 15 * 60_000 });

  async function resolveApiKey(key: string, requestId: string): Promise<ResolvedKey | null> {
    const verified = await callInternalRoute(
      verifyApiKeyRoute,
      { baseUrl: options.accountsUrl, signingSecret: options.signingSecret, service: 'router', requestId, timeoutMs: 3_000 },
      { key },
    ).catch(nullOn404);
    return verified && resolvedKeyOf(verified);
  }

  /** The key, or null for an unknown, revoked or expired one; throws when neither can be told. */
  async function lookUpApiKey(key: string, requestId: string): Promise<ResolvedKey | null> {
    const cacheKey = apiKeyCacheKey(key);
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
      const known = resolvedKeyOf(JSON.parse(cached) as VerifiedKey);
      lastKnownKeys.set(cacheKey, known);
      return live(known);
    }
    let resolved: ResolvedKey | null;
    try {
      resolved = await resolveApiKey(key, requestId);
    } catch (error) {
      const known = lastKnownKeys.get(cacheKey);
      if (!known) throw error;
      log.warn({ err: error, apiKeyId: known.identity.apiKeyId }, 'accounts unreachable; API key taken as accounts last answered');
      return live(known);
    }
    if (resolved) lastKnownKeys.set(cacheKey, resolved);
    else lastKnownKeys.delete(cacheKey);
    if (cacheUp) {
      const value = resolved ? JSON.stringify(verifiedKeyOf(resolved)) : 'invalid';
      await redis.set(cacheKey, value, 'EX', options.apiKeyCacheTtlSeconds).catch(() => undefined);
    }
    return resolved;
  }

  async function verifyApiKey(key: string, requestId: string): Promise<Authentication> {
    const resolved = await lookUpApiKey(key, requestId).catch((error: unknown) => {
      log.error({ err: error }, 'could not resolve API key');
      throw unavailable('The API key could not be checked right now; retry shortly');
    });
    if (!resolved) throw unauthenticated('Invalid, revoked or expired API key');
    return resolved.expiresAtMs === null
      ? { identity: resolved.identity }
      : { identity: resolved.identity, expiresAtMs: resolved.expiresAtMs };
  }

  /** Who the headers' credential stands for, with its session and expiry (for connections that outlive a request). */
  async function authenticateFully(headers: IncomingHttpHeaders, requestId: string): Promise<Authentication> {
    const credential = credentialOf(headers);
    if (!credential) return { identity: { kind: 'anonymous' } };
    return credential.kind === 'jwt' ? verifyJwt(credential.token) : verifyApiKey(credential.key, requestId);
  }

  const authenticate = async (headers: IncomingHttpHeaders, requestId: string): Promise<Identity> =>
    (await authenticateFully(headers, requestId)).identity;

  /**
   * An API key that authenticated a long-lived connection, looked up again: `revoked` (or expired,
   * or its project or organization deleted), its expiry if it has one, or `unknown` when accounts
   * cannot tell right now (the connection is given the benefit of the doubt).
   */
  async function recheckApiKey(key: string, requestId: string): Promise<'revoked' | 'unknown' | { expiresAtMs: number | null }> {
    return lookUpApiKey(key, requestId).then(
      (resolved) => (resolved ? { expiresAtMs: resolved.expiresAtMs } : 'revoked'),
      () => 'unknown' as const,
    );
  }

  /** Forgets what this router holds of these keys (hashes as accounts stores them): the next use asks again. */
  function forgetApiKeys(keyHashes: string[]) {
    const cacheKeys = keyHashes.map(cacheKeyOf);
    for (const cacheKey of cacheKeys) lastKnownKeys.delete(cacheKey);
    // Accounts evicted them already; a router that re-cached a key while it changed is undone here.
    if (cacheKeys.length && redis.status === 'ready') void redis.del(...cacheKeys).catch(() => undefined);
  }

  return { authenticate, authenticateFully, recheckApiKey, forgetApiKeys };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
