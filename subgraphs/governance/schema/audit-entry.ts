import { z } from 'zod';
import { decodeCursor, olderThan, pageOf, type Page } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireReader } from '../access.ts';
import { AuditKind as AuditKindValues } from '../generated/prisma/enums.ts';
import type { AuditEntry as AuditEntryRow, AuditKind as AuditKindValue, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';

export const AuditKind = builder.enumType(AuditKindValues, {
  name: 'AuditKind',
  description: 'POLICY_CREATED, _UPDATED, _DELETED: a change by a member. POLICY_VIOLATED: a decision the usage path reported.',
});

export const AuditEntry = builder.prismaObject('AuditEntry', {
  description: 'One entry of an organization\'s policy audit log.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: AuditKind }),
    policyId: t.exposeID('policyId', { description: 'The policy, which may since have been deleted.' }),
    policyName: t.exposeString('policyName', { description: 'Its name at the time.' }),
    actorUserId: t.exposeID('actorUserId', { nullable: true, description: 'The user who made the change; null for reported decisions.' }),
    before: t.expose('before', { type: 'JSON', nullable: true, description: 'The policy before the change (null when it was created).' }),
    after: t.expose('after', { type: 'JSON', nullable: true, description: 'The policy after the change (null when it was deleted).' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why the usage path reported a violation.' }),
    model: t.exposeString('model', { nullable: true }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The request that made the change or the decision.' }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    recordedAt: t.expose('createdAt', { type: 'DateTime', description: 'When the entry was written; the log is ordered by it, newest first.' }),
  }),
});

const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  shareable: true,
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass it as `after` for the next page.' }),
  }),
});

type Connection = Page<AuditEntryRow>;
type Edge = Connection['edges'][number];

const AuditLogEdge = builder.objectRef<Edge>('AuditLogEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: AuditEntry, resolve: (edge) => edge.node }),
  }),
});

const AuditLogConnection = builder.objectRef<Connection>('AuditLogConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [AuditLogEdge], resolve: (connection) => connection.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
  }),
});

/** A page of the organization's audit log, newest first. */
async function auditLog(organizationId: string, args: { first: number; after?: string | null; kind?: AuditKindValue | null }): Promise<Connection> {
  const where: Prisma.AuditEntryWhereInput = {
    organizationId,
    ...(args.kind ? { kind: args.kind } : {}),
    ...(args.after ? olderThan(decodeCursor(args.after)) : {}),
  };
  return pageOf(await prisma.auditEntry.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: args.first + 1 }), args.first);
}

builder.objectField(Organization, 'policyAuditLog', (t) =>
  t.field({
    type: AuditLogConnection,
    description: 'Changes to the policies of the organization and the violations the usage path reported, newest first. Members, or its API keys with policies:read. Entries are kept 90 days.',
    requiresScopes: [['policies:read']],
    args: {
      first: t.arg.int({ defaultValue: 20, validate: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish() }),
      after: t.arg.string(),
      kind: t.arg({ type: AuditKind }),
    },
    listSize: { slicingArguments: ['first'], sizedFields: ['edges'], requireOneSlicingArgument: false },
    resolve: async (organization, args, ctx) => {
      await requireReader(ctx, organization.id);
      return auditLog(organization.id, { first: args.first ?? 20, after: args.after, kind: args.kind });
    },
  }),
);
