import { z } from 'zod';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { projectLoader, requireManager } from '../access.ts';

export const Project = builder.prismaObject('Project', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    organization: t.relation('organization'),
    apiKeys: t.relation('apiKeys', { query: { orderBy: { createdAt: 'asc' } }, requiresScopes: [['projects:read']], listSize: { assumedSize: 10 } }),
  }),
});

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

builder.mutationField('createProject', (t) =>
  t.prismaField({
    type: 'Project',
    description: 'Only OWNER and ADMIN members can create projects.',
    authenticated: true,
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      await requireManager(ctx, organizationId);
      return prisma.project.create({ ...query, data: { organizationId, name: input.name } });
    },
  }),
);
