import { z } from 'zod';
import { notFound } from '@mindweave/errors';
import { requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { redis } from '../redis.ts';
import { isUuid, requireManager } from '../access.ts';
import { apiKeyScopes, evictApiKey, newApiKey } from '../api-keys.ts';
import type { ApiKey as ApiKeyRow } from '../generated/prisma/client.ts';

export const ApiKey = builder.prismaObject('ApiKey', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    scopes: t.exposeStringList('scopes'),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
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
  }),
});

async function projectOrganization(projectId: string) {
  const project = isUuid(projectId) ? await prisma.project.findUnique({ where: { id: projectId } }) : null;
  if (!project) throw notFound('Project');
  return project.organizationId;
}

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    description: 'Only OWNER and ADMIN members can create keys.',
    authenticated: true,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const userId = requireUserId(ctx);
      const projectId = String(input.projectId);
      await requireManager(ctx, await projectOrganization(projectId));
      const { key, prefix, keyHash } = newApiKey();
      const apiKey = await prisma.apiKey.create({
        data: { projectId, name: input.name, scopes: [...new Set(input.scopes)], prefix, keyHash, createdById: userId },
      });
      return { key, apiKey };
    },
  }),
  revokeApiKey: t.prismaField({
    type: 'ApiKey',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const existing = isUuid(String(id)) ? await prisma.apiKey.findUnique({ where: { id: String(id) }, include: { project: true } }) : null;
      if (!existing) throw notFound('API key');
      await requireManager(ctx, existing.project.organizationId);
      const revoked = await prisma.apiKey.update({ ...query, where: { id: existing.id }, data: { revokedAt: existing.revokedAt ?? new Date() } });
      // The router's cache entry also expires by itself within seconds if Redis cannot be reached now.
      await evictApiKey(redis, existing.keyHash).catch((error: unknown) => ctx.log.warn({ err: error }, 'could not evict API key from cache'));
      return revoked;
    },
  }),
}));
