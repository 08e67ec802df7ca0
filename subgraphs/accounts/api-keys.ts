import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import { prisma } from './db.ts';

export const apiKeyPrefix = 'mw_sk_';

/** The scopes an API key may carry. */
export const apiKeyScopes = [
  'usage:write',
  'usage:read',
  'projects:read',
  'policies:read',
  'mcp:read',
  'mcp:write',
  'exports:write',
] as const;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** The Redis key under which the router caches what an API key resolves to (see router/auth.ts). */
export const apiKeyCacheKey = (keyHash: string) => `apikey:${keyHash}`;

export function newApiKey() {
  const key = `${apiKeyPrefix}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, apiKeyPrefix.length + 6), keyHash: hashApiKey(key) };
}

const lastUsedResolutionMs = 60_000;

const earliest = (...dates: (Date | null)[]) => dates.reduce<Date | null>((min, date) => (date && (!min || date < min) ? date : min), null);

/**
 * What the router needs to know of a presented key, or null when it is unknown, revoked, expired,
 * or its project or organization was deleted. The previous secret of a rotated key resolves until
 * its grace period ends. `expiresAt` is when the presented secret stops working, if it does.
 */
export async function verifyApiKey(key: string, log: Logger) {
  if (!key.startsWith(apiKeyPrefix) || key.length > 100) return null;
  const keyHash = hashApiKey(key);
  const row = await prisma.apiKey.findFirst({
    where: { OR: [{ keyHash }, { previousKeyHash: keyHash }] },
    include: { project: { select: { organizationId: true, deletedAt: true, organization: { select: { deletedAt: true } } } } },
  });
  if (!row || row.revokedAt || row.project.deletedAt || row.project.organization.deletedAt) return null;
  const expiresAt = earliest(row.expiresAt, row.keyHash === keyHash ? null : row.previousKeyExpiresAt);
  if (expiresAt && expiresAt.getTime() <= Date.now()) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > lastUsedResolutionMs) {
    // Coarse on purpose: one write a minute per key, whatever its traffic. Bookkeeping: the key's
    // answer waits for it neither to succeed nor to fail.
    void prisma.apiKey
      .update({ where: { id: row.id }, data: { lastUsedAt: new Date() } })
      .catch((error: unknown) => log.warn({ err: error, apiKeyId: row.id }, 'lastUsedAt not updated'));
  }
  return {
    apiKeyId: row.id,
    projectId: row.projectId,
    organizationId: row.project.organizationId,
    scopes: row.scopes,
    expiresAt: expiresAt?.toISOString() ?? null,
  };
}

/** The hashes a key row answers to: its secret and, while in its grace period, the previous one. */
export const hashesOf = (key: { id: string; keyHash: string; previousKeyHash: string | null }) =>
  [key.keyHash, ...(key.previousKeyHash ? [key.previousKeyHash] : [])].map((keyHash) => ({ apiKeyId: key.id, keyHash }));

/**
 * Drops the router's cached copies (shared in Redis) so that a change takes effect on the next
 * request; every router also drops its own on the `organization.api_keys_changed` event. If Redis
 * cannot be reached now, the entries expire by themselves within API_KEY_CACHE_TTL_SECONDS.
 */
export async function evictApiKeys(redis: Redis, keyHashes: string[], log: Logger) {
  if (keyHashes.length === 0) return;
  await redis
    .del(...keyHashes.map(apiKeyCacheKey))
    .catch((error: unknown) => log.warn({ err: error }, 'could not evict API keys from the cache'));
}
