import { z } from 'zod';
import { conflict, notFound } from '@mindweave/errors';
import { isUniqueViolation, isUuid, requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { assertRole, organizationLoader, visibleOrganizations, withOrganizationLock } from '../access.ts';
import { evictApiKeys, hashesOf } from '../api-keys.ts';
import { recordChange } from '../audit.ts';
import { redis } from '../redis.ts';

const Plan = builder.enumType('Plan', {
  values: ['FREE', 'PRO', 'ENTERPRISE'] as const,
  description: "Sets the organization's monthly token quota.",
});

export const Organization = builder.prismaObject('Organization', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    plan: t.expose('plan', { type: Plan }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    // Empty unless the caller can see the organization (its profile above is public).
    projects: t.relation('projects', {
      query: (_args, ctx) => ({ where: { deletedAt: null, organization: visibleOrganizations(ctx) }, orderBy: { createdAt: 'asc' } }),
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

const organizationName = z.string().trim().min(1, 'must not be empty').max(100);

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: organizationName }),
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

const UpdateOrganizationInput = builder.inputType('UpdateOrganizationInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ validate: organizationName.nullish() }),
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
      // Another tenant's organization, or a deleted one, looks exactly like one that does not exist.
      if (!org) throw notFound('Organization');
      return org;
    },
  }),
);

builder.mutationFields((t) => ({
  createOrganization: t.prismaField({
    type: 'Organization',
    description: 'Creates an organization with the caller as its OWNER.',
    authenticated: true,
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const userId = requireUserId(ctx);
      const created = await prisma
        .$transaction(async (tx) => {
          const organization = await tx.organization.create({
            data: { name: input.name, slug: input.slug, memberships: { create: { userId, role: 'OWNER' } } },
          });
          await recordChange(tx, ctx, {
            organizationId: organization.id,
            action: 'ORGANIZATION_CREATED',
            details: { name: organization.name, slug: organization.slug },
          });
          return organization;
        })
        .catch((error: unknown) => {
          // Slugs of deleted organizations stay taken, so that no old link leads to another tenant.
          if (isUniqueViolation(error)) throw conflict(`The slug "${input.slug}" is taken`, 'input.slug');
          throw error;
        });
      return prisma.organization.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
  updateOrganization: t.prismaField({
    type: 'Organization',
    description: 'Renames the organization. OWNER and ADMIN members.',
    authenticated: true,
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.id);
      await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller);
        const before = await tx.organization.findUniqueOrThrow({ where: { id: organizationId } });
        if (!input.name || input.name === before.name) return;
        await tx.organization.update({ where: { id: organizationId }, data: { name: input.name } });
        await recordChange(tx, ctx, { organizationId, action: 'ORGANIZATION_RENAMED', details: { from: before.name, to: input.name } });
      });
      return prisma.organization.findUniqueOrThrow({ ...query, where: { id: organizationId } });
    },
  }),
  deleteOrganization: t.boolean({
    description:
      'Deletes the organization (OWNER only). It disappears for everyone at once: its API keys stop working, open connections that relied on it are closed, its webhooks stop and pending invitations are revoked; its usage data is kept for the retention period, then removed. Its slug stays reserved.',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const organizationId = String(id);
      const keys = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller, ['OWNER']);
        const now = new Date();
        await tx.organization.update({ where: { id: organizationId }, data: { deletedAt: now } });
        await tx.invitation.updateMany({ where: { organizationId, acceptedAt: null, revokedAt: null }, data: { revokedAt: now } });
        const members = await tx.membership.findMany({ where: { organizationId }, select: { userId: true } });
        const keys = (
          await tx.apiKey.findMany({
            where: { project: { organizationId }, revokedAt: null },
            select: { id: true, keyHash: true, previousKeyHash: true },
          })
        ).flatMap(hashesOf);
        await recordChange(tx, ctx, {
          organizationId,
          action: 'ORGANIZATION_DELETED',
          events: [
            { type: 'organization.deleted', data: { organizationId, memberUserIds: members.map((member) => member.userId) } },
            { type: 'organization.api_keys_changed', data: { organizationId, keys, change: 'organization_deleted' } },
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
