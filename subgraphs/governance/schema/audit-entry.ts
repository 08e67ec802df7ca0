import { connectionListSize, keysetConnection, newestFirst, pageSize, type ConnectionArgs } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireReader } from '../access.ts';
import { AuditKind as AuditKindValues } from '../generated/prisma/enums.ts';
import type { AuditKind as AuditKindValue, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';

export const AuditKind = builder.enumType(AuditKindValues, {
  name: 'AuditKind',
  description: 'POLICY_CREATED, _UPDATED, _DELETED: a change by a member. POLICY_VIOLATED: a decision the usage path reported.',
});

export const AuditEntry = builder.prismaObject('AuditEntry', {
  description: "One entry of an organization's policy audit log.",
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
    recordedAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the entry was written; the log is ordered by it, newest first.',
    }),
  }),
});

const AuditLogConnection = builder.connectionObject({ type: AuditEntry, name: 'AuditLogConnection' }, { name: 'AuditLogEdge' });

/** A page of the organization's audit log, newest first. */
function auditLog(organizationId: string, args: ConnectionArgs & { kind?: AuditKindValue | null }) {
  return keysetConnection(args, newestFirst, ({ after, limit }) => {
    const where: Prisma.AuditEntryWhereInput = {
      organizationId,
      ...(args.kind ? { kind: args.kind } : {}),
      ...(after ? newestFirst.after(after) : {}),
    };
    return prisma.auditEntry.findMany({ where, orderBy: newestFirst.orderBy, take: limit });
  });
}

builder.objectField(Organization, 'policyAuditLog', (t) =>
  t.field({
    type: AuditLogConnection,
    description:
      'Changes to the policies of the organization and the violations the usage path reported, newest first. Members, or its API keys with policies:read. Entries are kept 90 days.',
    requiresScopes: [['policies:read']],
    args: {
      first: t.arg.int({ defaultValue: 20, validate: pageSize }),
      after: t.arg.string(),
      kind: t.arg({ type: AuditKind }),
    },
    listSize: connectionListSize,
    resolve: async (organization, args, ctx) => {
      await requireReader(ctx, organization.id);
      return auditLog(organization.id, args);
    },
  }),
);
