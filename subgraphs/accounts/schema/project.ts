import { z } from 'zod';
import { notFound } from '@mindweave/errors';
import { isUuid } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { assertRole, projectLoader, withOrganizationLock } from '../access.ts';
import { evictApiKeys, hashesOf } from '../api-keys.ts';
import { recordChange } from '../audit.ts';
import { redis } from '../redis.ts';

export const Project = builder.prismaObject('Project', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    organization: t.relation('organization'),
    apiKeys: t.relation('apiKeys', {
      query: { orderBy: { createdAt: 'asc' } },
      requiresScopes: [['projects:read']],
      listSize: { assumedSize: 10 },
    }),
  }),
});

// A deleted project still resolves by reference: the usage recorded in it refers to it.
builder.asEntity(Project, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (project, ctx) => projectLoader(ctx).load(project.id),
});

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100) }),
  }),
});

/** A live project, with the organization it belongs to; NOT_FOUND otherwise. */
export async function liveProject(projectId: string) {
  const project = isUuid(projectId) ? await prisma.project.findFirst({ where: { id: projectId, deletedAt: null } }) : null;
  if (!project) throw notFound('Project');
  return project;
}

builder.mutationFields((t) => ({
  createProject: t.prismaField({
    type: 'Project',
    description: 'Only OWNER and ADMIN members can create projects.',
    authenticated: true,
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const created = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller);
        const project = await tx.project.create({ data: { organizationId, name: input.name } });
        await recordChange(tx, ctx, { organizationId, action: 'PROJECT_CREATED', targetId: project.id, details: { name: project.name } });
        return project;
      });
      return prisma.project.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
  deleteProject: t.boolean({
    description:
      "Deletes a project (OWNER and ADMIN members): it disappears from the organization and its API keys stop working at once, open connections included. Usage recorded in it stays in the organization's history.",
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const project = await liveProject(String(id));
      const keys = await withOrganizationLock(ctx, project.organizationId, async (tx, caller) => {
        assertRole(caller);
        const deleted = await tx.project.updateMany({ where: { id: project.id, deletedAt: null }, data: { deletedAt: new Date() } });
        if (deleted.count !== 1) throw notFound('Project');
        const keys = (
          await tx.apiKey.findMany({
            where: { projectId: project.id, revokedAt: null },
            select: { id: true, keyHash: true, previousKeyHash: true },
          })
        ).flatMap(hashesOf);
        await recordChange(tx, ctx, {
          organizationId: project.organizationId,
          action: 'PROJECT_DELETED',
          targetId: project.id,
          details: { name: project.name },
          events: [
            { type: 'organization.api_keys_changed', data: { organizationId: project.organizationId, keys, change: 'project_deleted' } },
          ],
        });
        return keys;
      });
      await evictApiKeys(
        redis,
        keys.map((key) => key.keyHash),
        ctx.log,
      );
      return true;
    },
  }),
}));
