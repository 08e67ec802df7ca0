import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import { prisma } from './db.ts';

export const apiKeyPrefix = 'mw_sk_';

/** The scopes an API key may carry. */
export const apiKeyScopes = ['usage:write', 'usage:read', 'projects:read', 'policies:read', 'mcp:read', 'mcp:write', 'exports:write'] as const;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** The Redis key under which the router caches what an API key resolves to (see router/auth.ts). */
export const apiKeyCacheKey = (keyHash: string) => `apikey:${keyHash}`;

export function newApiKey() {
  const key = `${apiKeyPrefix}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, apiKeyPrefix.length + 6), keyHash: hashApiKey(key) };
}

const lastUsedResolutionMs = 60_000;

/** What the router needs to know of a presented key, or null when it is unknown or revoked. */
export async function verifyApiKey(key: string, log: Logger) {
  if (!key.startsWith(apiKeyPrefix) || key.length > 100) return null;
  const row = await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(key) }, include: { project: true } });
  if (!row || row.revokedAt) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > lastUsedResolutionMs) {
    // Coarse on purpose: one write a minute per key, whatever its traffic. Bookkeeping: the key's
    // answer waits for it neither to succeed nor to fail.
    void prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch((error: unknown) => log.warn({ err: error, apiKeyId: row.id }, 'lastUsedAt not updated'));
  }
  return { apiKeyId: row.id, projectId: row.projectId, organizationId: row.project.organizationId, scopes: row.scopes };
}

/** Drops the router's cached copy so a revoked key stops working on the next request. */
export async function evictApiKey(redis: Redis, keyHash: string) {
  await redis.del(apiKeyCacheKey(keyHash));
}
