import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { forbidden, notFound } from '@mindweave/errors';
import { isUuid, requireUserId, type SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import type { MemberRole, Membership, Organization, Prisma, Project } from './generated/prisma/client.ts';

/**
 * The organizations a caller may see: a user's memberships, or an API key's own organization;
 * never a deleted one. Combine it with other conditions under AND: spreading it would overwrite
 * their `id`.
 */
export function visibleOrganizations(ctx: SubgraphContext): Prisma.OrganizationWhereInput {
  switch (ctx.identity.kind) {
    case 'user':
      return { deletedAt: null, memberships: { some: { userId: ctx.identity.userId } } };
    case 'apiKey':
      return { id: ctx.identity.organizationId, deletedAt: null };
    default:
      return { id: { in: [] } };
  }
}

/**
 * Batches lookups of organizations by id within one request, for entity references. Any
 * organization resolves here (other subgraphs only hand out references they may: a public MCP
 * server's publisher, say), but only its public profile: the fields that list members, projects
 * or keys filter by visibility themselves.
 */
export const organizationLoader = createContextCache(
  () =>
    new DataLoader<string, Organization | null>(async (ids) => {
      const rows = await prisma.organization.findMany({ where: { id: { in: ids.filter(isUuid) } } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
);

/** Batches lookups of projects in visible organizations by id within one request. */
export const projectLoader = createContextCache(
  (ctx: SubgraphContext) =>
    new DataLoader<string, Project | null>(async (ids) => {
      const rows = await prisma.project.findMany({ where: { id: { in: ids.filter(isUuid) }, organization: visibleOrganizations(ctx) } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
);

const managers: MemberRole[] = ['OWNER', 'ADMIN'];

/** OWNER > ADMIN > MEMBER > VIEWER: nobody gives anyone a role above their own. */
export const roleRank: Record<MemberRole, number> = { OWNER: 4, ADMIN: 3, MEMBER: 2, VIEWER: 1 };

type Db = Pick<Prisma.TransactionClient, 'membership'>;

/**
 * The signed-in user's membership of a live organization, or NOT_FOUND (an organization's
 * existence is not revealed to non-members, nor a deleted one to anyone).
 */
export async function requireMember(ctx: SubgraphContext, organizationId: string, db: Db = prisma): Promise<Membership> {
  const membership =
    ctx.identity.kind === 'user' && isUuid(organizationId)
      ? await db.membership.findFirst({ where: { organizationId, userId: ctx.identity.userId, organization: { deletedAt: null } } })
      : null;
  if (!membership) throw notFound('Organization');
  return membership;
}

/**
 * Throws unless the signed-in user may manage `organizationId`: NOT_FOUND for non-members, FORBIDDEN
 * for members below ADMIN (or below `roles`).
 */
export async function requireManager(
  ctx: SubgraphContext,
  organizationId: string,
  db: Db = prisma,
  roles: MemberRole[] = managers,
): Promise<Membership> {
  return assertRole(await requireMember(ctx, organizationId, db), roles);
}

/** The membership, if its role is one of `roles` (OWNER and ADMIN unless said); FORBIDDEN otherwise. */
export function assertRole(membership: Membership, roles: MemberRole[] = managers): Membership {
  if (!roles.includes(membership.role))
    throw forbidden(roles.length === 1 ? `Only ${roles[0]!.toLowerCase()}s can do this` : 'Only owners and admins can do this');
  return membership;
}

/**
 * Locks the organization's row until the transaction ends, so that changes to one organization's
 * members run one at a time: two owners removing each other at once cannot leave it without one.
 * NOT_FOUND for an unknown or deleted organization.
 */
export async function lockOrganization(tx: Prisma.TransactionClient, organizationId: string) {
  const rows = isUuid(organizationId)
    ? await tx.$queryRaw<
        { id: string }[]
      >`SELECT id FROM organizations WHERE id = ${organizationId}::uuid AND "deletedAt" IS NULL FOR UPDATE`
    : [];
  if (rows.length === 0) throw notFound('Organization');
}

/** Runs `change` in a transaction holding the organization's lock, with the caller's membership as of then. */
export function withOrganizationLock<T>(
  ctx: SubgraphContext,
  organizationId: string,
  change: (tx: Prisma.TransactionClient, caller: Membership) => Promise<T>,
): Promise<T> {
  requireUserId(ctx);
  return prisma.$transaction(async (tx) => {
    await lockOrganization(tx, organizationId);
    return change(tx, await requireMember(ctx, organizationId, tx));
  });
}
