import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { forbidden, notFound } from '@mindweave/errors';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import type { MemberRole, Organization, Prisma, Project } from './generated/prisma/client.ts';

/**
 * The organizations a caller may see: a user's memberships, or an API key's own organization.
 * Combine it with other conditions under AND: spreading it would overwrite their `id`.
 */
export function visibleOrganizations(ctx: SubgraphContext): Prisma.OrganizationWhereInput {
  switch (ctx.identity.kind) {
    case 'user':
      return { memberships: { some: { userId: ctx.identity.userId } } };
    case 'apiKey':
      return { id: ctx.identity.organizationId };
    default:
      return { id: { in: [] } };
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => uuidPattern.test(value);

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

/**
 * Throws unless the signed-in user may manage `organizationId`: NOT_FOUND for non-members (an
 * organization's existence is not revealed), FORBIDDEN for members below ADMIN.
 */
export async function requireManager(ctx: SubgraphContext, organizationId: string): Promise<{ role: MemberRole }> {
  const membership =
    ctx.identity.kind === 'user' && isUuid(organizationId)
      ? await prisma.membership.findUnique({ where: { organizationId_userId: { organizationId, userId: ctx.identity.userId } } })
      : null;
  if (!membership) throw notFound('Organization');
  if (!managers.includes(membership.role)) throw forbidden('Only owners and admins can do this');
  return membership;
}
