import { z } from 'zod';
import { decodeCursor, olderThan, pageOf, type Page } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireManager } from '../access.ts';
import { AuditAction as AuditActionValues } from '../generated/prisma/enums.ts';
import type { AuditAction as AuditActionValue, AuditEntry as AuditEntryRow, Prisma } from '../generated/prisma/client.ts';
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
    targetUser: t.field({ type: User, nullable: true, description: 'The member the action was about.', resolve: (entry) => (entry.targetUserId ? { id: entry.targetUserId } : null) }),
    targetId: t.exposeString('targetId', { nullable: true, description: 'The invitation, project or API key the action was about.' }),
    details: t.expose('details', { type: 'JSON', nullable: true, description: 'What changed: roles before and after, names, emails invited, key prefixes.' }),
    requestId: t.exposeString('requestId', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PageInfo = builder.objectRef<Page<unknown>['pageInfo']>('PageInfo').implement({
  shareable: true,
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass it as `after` for the next page.' }),
  }),
});

type Connection = Page<AuditEntryRow>;

const OrganizationAuditEdge = builder.objectRef<Connection['edges'][number]>('OrganizationAuditEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: OrganizationAuditEntry, resolve: (edge) => edge.node }),
  }),
});

const OrganizationAuditConnection = builder.objectRef<Connection>('OrganizationAuditConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [OrganizationAuditEdge], resolve: (connection) => connection.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
  }),
});

builder.objectField(Organization, 'auditLog', (t) =>
  t.field({
    type: OrganizationAuditConnection,
    description: 'Who invited, accepted, changed a role, removed, rotated, revoked or deleted what in the organization, and when; newest first. Owners and admins only.',
    authenticated: true,
    args: {
      first: t.arg.int({ defaultValue: 20, validate: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish() }),
      after: t.arg.string(),
      action: t.arg({ type: OrganizationAuditAction }),
    },
    listSize: { slicingArguments: ['first'], sizedFields: ['edges'], requireOneSlicingArgument: false },
    resolve: async (organization, args, ctx) => {
      await requireManager(ctx, organization.id);
      const first = args.first ?? 20;
      const where: Prisma.AuditEntryWhereInput = {
        organizationId: organization.id,
        ...(args.action ? { action: args.action as AuditActionValue } : {}),
        ...(args.after ? olderThan(decodeCursor(args.after)) : {}),
      };
      return pageOf(await prisma.auditEntry.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: first + 1 }), first);
    },
  }),
);
