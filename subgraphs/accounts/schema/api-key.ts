import { z } from 'zod';
import { conflict, notFound } from '@mindweave/errors';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { isUuid } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { env } from '../env.ts';
import { redis } from '../redis.ts';
import { assertRole, withOrganizationLock } from '../access.ts';
import { apiKeyScopes, evictApiKeys, hashesOf, newApiKey } from '../api-keys.ts';
import { recordChange } from '../audit.ts';
import type { ApiKey as ApiKeyRow, Prisma } from '../generated/prisma/client.ts';
import { liveProject } from './project.ts';

export const ApiKey = builder.prismaObject('ApiKey', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    scopes: t.exposeStringList('scopes'),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key stops working, if it was created with an expiry.',
    }),
    rotatedAt: t.expose('rotatedAt', { type: 'DateTime', nullable: true, description: 'When the key last got a new secret.' }),
    previousKeyExpiresAt: t.expose('previousKeyExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the secret it had before its last rotation stops working.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    project: t.relation('project'),
  }),
});

const CreatedApiKey = builder.objectRef<{ key: string; apiKey: ApiKeyRow }>('CreatedApiKey').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The secret key. It is shown only this once.' }),
    apiKey: t.field({ type: ApiKey, resolve: (created) => created.apiKey }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100) }),
    scopes: t.stringList({
      required: true,
      validate: z.array(z.enum(apiKeyScopes, { error: `must be one of ${apiKeyScopes.join(', ')}` })).max(apiKeyScopes.length),
    }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the key stops working; without it the key works until it is revoked.',
      validate: z
        .date()
        .refine((date) => date.getTime() > Date.now(), 'must be in the future')
        .nullish(),
    }),
  }),
});

/** A key of a live project whose organization the caller manages, under the organization's lock. */
async function managedKey<R extends { evict: string[] }>(
  ctx: SubgraphContext,
  id: string,
  change: (tx: Prisma.TransactionClient, key: ApiKeyRow, organizationId: string) => Promise<R>,
): Promise<R> {
  const found = isUuid(id)
    ? await prisma.apiKey.findFirst({ where: { id, project: { deletedAt: null } }, include: { project: true } })
    : null;
  if (!found) throw notFound('API key');
  const organizationId = found.project.organizationId;
  const result = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
    assertRole(caller);
    return change(tx, await tx.apiKey.findUniqueOrThrow({ where: { id } }), organizationId);
  });
  await evictApiKeys(redis, result.evict, ctx.log);
  return result;
}

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    description: 'Only OWNER and ADMIN members can create keys.',
    authenticated: true,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const project = await liveProject(String(input.projectId));
      return withOrganizationLock(ctx, project.organizationId, async (tx, caller) => {
        assertRole(caller);
        const { key, prefix, keyHash } = newApiKey();
        const apiKey = await tx.apiKey.create({
          data: {
            projectId: project.id,
            name: input.name,
            scopes: [...new Set(input.scopes)],
            prefix,
            keyHash,
            createdById: caller.userId,
            expiresAt: input.expiresAt ?? null,
          },
        });
        await recordChange(tx, ctx, {
          organizationId: project.organizationId,
          action: 'API_KEY_CREATED',
          targetId: apiKey.id,
          details: { name: apiKey.name, prefix, scopes: apiKey.scopes, expiresAt: apiKey.expiresAt?.toISOString() ?? null },
        });
        return { key, apiKey };
      });
    },
  }),
  rotateApiKey: t.field({
    type: CreatedApiKey,
    description:
      'Gives the key a new secret, shown once. The old secret keeps working for API_KEY_ROTATION_GRACE_SECONDS (24 h by default), so that clients can move over; a secret from an earlier rotation stops at once. OWNER and ADMIN members.',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const { apiKey, key } = await managedKey(ctx, String(id), async (tx, existing, organizationId) => {
        if (existing.revokedAt) throw conflict('A revoked key cannot be rotated');
        if (existing.expiresAt && existing.expiresAt.getTime() <= Date.now()) throw conflict('An expired key cannot be rotated');
        const now = new Date();
        const graceEnds = new Date(now.getTime() + env.API_KEY_ROTATION_GRACE_SECONDS * 1000);
        const next = newApiKey();
        const rotated = await tx.apiKey.update({
          where: { id: existing.id },
          data: {
            keyHash: next.keyHash,
            prefix: next.prefix,
            previousKeyHash: existing.keyHash,
            previousKeyExpiresAt: existing.expiresAt && existing.expiresAt < graceEnds ? existing.expiresAt : graceEnds,
            rotatedAt: now,
          },
        });
        // The old secret now expires, and one from an earlier rotation is dropped: cached copies must go.
        const changed = hashesOf(existing);
        await recordChange(tx, ctx, {
          organizationId,
          action: 'API_KEY_ROTATED',
          targetId: existing.id,
          details: {
            name: existing.name,
            prefix: next.prefix,
            previousPrefix: existing.prefix,
            previousKeyExpiresAt: rotated.previousKeyExpiresAt?.toISOString() ?? null,
          },
          events: [{ type: 'organization.api_keys_changed', data: { organizationId, keys: changed, change: 'rotated' } }],
        });
        return { apiKey: rotated, key: next.key, evict: changed.map((entry) => entry.keyHash) };
      });
      return { key, apiKey };
    },
  }),
  revokeApiKey: t.prismaField({
    type: 'ApiKey',
    description: 'The key stops working at once, on open connections too. OWNER and ADMIN members.',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const { apiKey } = await managedKey(ctx, String(id), async (tx, existing, organizationId) => {
        if (existing.revokedAt) return { apiKey: existing, evict: [] };
        const revoked = await tx.apiKey.update({ where: { id: existing.id }, data: { revokedAt: new Date() } });
        const keys = hashesOf(existing);
        await recordChange(tx, ctx, {
          organizationId,
          action: 'API_KEY_REVOKED',
          targetId: existing.id,
          details: { name: existing.name, prefix: existing.prefix },
          events: [{ type: 'organization.api_keys_changed', data: { organizationId, keys, change: 'revoked' } }],
        });
        return { apiKey: revoked, evict: keys.map((entry) => entry.keyHash) };
      });
      return prisma.apiKey.findUniqueOrThrow({ ...query, where: { id: apiKey.id } });
    },
  }),
}));
