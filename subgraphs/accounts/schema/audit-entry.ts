import { connectionListSize, keysetConnection, newestFirst, pageSize } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireManager } from '../access.ts';
import { AuditAction as AuditActionValues } from '../generated/prisma/enums.ts';
import type { AuditAction as AuditActionValue, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';
import { User } from './user.ts';

const OrganizationAuditAction = builder.enumType(AuditActionValues, { name: 'OrganizationAuditAction' });

const OrganizationAuditEntry = builder.prismaObject('AuditEntry', {
  name: 'OrganizationAuditEntry',
  description: "One entry of the organization's audit trail: who changed its members, invitations, projects or keys, and when.",
  fields: (t) => ({
    id: t.exposeID('id'),
    action: t.expose('action', { type: OrganizationAuditAction }),
    actor: t.field({ type: User, description: 'The member who acted.', resolve: (entry) => ({ id: entry.actorUserId }) }),
    targetUser: t.field({
      type: User,
      nullable: true,
      description: 'The member the action was about.',
      resolve: (entry) => (entry.targetUserId ? { id: entry.targetUserId } : null),
    }),
    targetId: t.exposeString('targetId', { nullable: true, description: 'The invitation, project or API key the action was about.' }),
    details: t.expose('details', {
      type: 'JSON',
      nullable: true,
      description: 'What changed: roles before and after, names, emails invited, key prefixes.',
    }),
    requestId: t.exposeString('requestId', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const OrganizationAuditConnection = builder.connectionObject(
  { type: OrganizationAuditEntry, name: 'OrganizationAuditConnection' },
  { name: 'OrganizationAuditEdge' },
);

builder.objectField(Organization, 'auditLog', (t) =>
  t.field({
    type: OrganizationAuditConnection,
    description:
      'Who invited, accepted, changed a role, removed, rotated, revoked or deleted what in the organization, and when; newest first. Owners and admins only.',
    authenticated: true,
    args: {
      first: t.arg.int({ defaultValue: 20, validate: pageSize }),
      after: t.arg.string(),
      action: t.arg({ type: OrganizationAuditAction }),
    },
    listSize: connectionListSize,
    resolve: async (organization, args, ctx) => {
      await requireManager(ctx, organization.id);
      return keysetConnection(args, newestFirst, ({ after, limit }) => {
        const where: Prisma.AuditEntryWhereInput = {
          organizationId: organization.id,
          ...(args.action ? { action: args.action as AuditActionValue } : {}),
          ...(after ? newestFirst.after(after) : {}),
        };
        return prisma.auditEntry.findMany({ where, orderBy: newestFirst.orderBy, take: limit });
      });
    },
  }),
);
