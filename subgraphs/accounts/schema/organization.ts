import { z } from 'zod';
import { conflict, notFound } from '@mindweave/errors';
import { isUniqueViolation, requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { isUuid, organizationLoader, visibleOrganizations } from '../access.ts';

const Plan = builder.enumType('Plan', { values: ['FREE', 'PRO', 'ENTERPRISE'] as const, description: "Sets the organization's monthly token quota." });

export const Organization = builder.prismaObject('Organization', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    plan: t.expose('plan', { type: Plan }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    // Empty unless the caller can see the organization (its profile above is public).
    projects: t.relation('projects', {
      query: (_args, ctx) => ({ where: { organization: visibleOrganizations(ctx) }, orderBy: { createdAt: 'asc' } }),
      requiresScopes: [['projects:read']],
      listSize: { assumedSize: 20 },
    }),
    memberships: t.relation('memberships', {
      query: (_args, ctx) => ({ where: { organization: visibleOrganizations(ctx) }, orderBy: { createdAt: 'asc' } }),
      requiresScopes: [['projects:read']],
      listSize: { assumedSize: 50 },
    }),
  }),
});

builder.asEntity(Organization, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (org, ctx) => organizationLoader(ctx).load(org.id),
});

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100) }),
    slug: t.string({
      required: true,
      validate: z
        .string()
        .min(3, 'must be at least 3 characters')
        .max(48, 'must be at most 48 characters')
        .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase letters, digits and single dashes'),
    }),
  }),
});

builder.queryField('organization', (t) =>
  t.prismaField({
    type: 'Organization',
    nullable: true,
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const org = isUuid(String(id))
        ? await prisma.organization.findFirst({ ...query, where: { AND: [{ id: String(id) }, visibleOrganizations(ctx)] } })
        : null;
      // Another tenant's organization looks exactly like one that does not exist.
      if (!org) throw notFound('Organization');
      return org;
    },
  }),
);

builder.mutationField('createOrganization', (t) =>
  t.prismaField({
    type: 'Organization',
    description: 'Creates an organization with the caller as its OWNER.',
    authenticated: true,
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: (query, _root, { input }, ctx) => {
      const userId = requireUserId(ctx);
      return prisma.organization
        .create({ ...query, data: { name: input.name, slug: input.slug, memberships: { create: { userId, role: 'OWNER' } } } })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw conflict(`The slug "${input.slug}" is taken`, 'input.slug');
          throw error;
        });
    },
  }),
);
