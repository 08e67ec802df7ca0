import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { createMembershipDirectory } from '@mindweave/accounts/membership-directory';
import { forbidden, notFound } from '@mindweave/errors';
import { isUuid, type SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { env } from './env.ts';
import type { McpServer, Prisma } from './generated/prisma/client.ts';

/** Memberships and roles are the accounts subgraph's: asked over its internal route. */
export const directory = createMembershipDirectory({
  accountsUrl: env.ACCOUNTS_INTERNAL_URL,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  service: 'mcp-registry',
});

/** The organizations whose private servers the caller sees: a user's, or an API key's own when it holds mcp:read. */
export const visibleOrganizationIds = async (ctx: SubgraphContext): Promise<string[]> =>
  ctx.identity.kind === 'apiKey' && !ctx.identity.scopes.includes('mcp:read') ? [] : directory.visibleOrganizationIds(ctx);

/**
 * The servers a caller may see: public ones, and private ones of its organizations. Combine it
 * with other conditions under AND: spreading it would overwrite their `OR`.
 */
export async function visibleServers(ctx: SubgraphContext): Promise<Prisma.McpServerWhereInput> {
  return visibleAmong(await visibleOrganizationIds(ctx));
}

/** `visibleServers` for a caller that sees the private servers of `organizationIds`. */
export function visibleAmong(organizationIds: string[]): Prisma.McpServerWhereInput {
  return organizationIds.length
    ? { OR: [{ visibility: 'PUBLIC' }, { organizationId: { in: organizationIds } }] }
    : { visibility: 'PUBLIC' };
}

/** Batches lookups of visible servers by id within one request (entity references). */
export const serverLoader = createContextCache(
  (ctx: SubgraphContext) =>
    new DataLoader<string, McpServer | null>(async (ids) => {
      const rows = await prisma.mcpServer.findMany({ where: { AND: [{ id: { in: ids.filter(isUuid) } }, await visibleServers(ctx)] } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
);

/**
 * The server `serverId` for a manager of its organization (OWNER or ADMIN): NOT_FOUND when the
 * caller cannot see it, FORBIDDEN for other members and API keys.
 */
export async function requireManagedServer(ctx: SubgraphContext, serverId: string): Promise<McpServer> {
  const server = isUuid(serverId)
    ? await prisma.mcpServer.findFirst({ where: { AND: [{ id: serverId }, await visibleServers(ctx)] } })
    : null;
  if (!server) throw notFound('MCP server');
  // A public server's organization is no secret: outsiders are told they may not, not that it is missing.
  if (!(await directory.accessTo(ctx, server.organizationId))) throw forbidden(managersOnly);
  await directory.requireRole(ctx, server.organizationId);
  return server;
}

const managersOnly = "Only OWNER and ADMIN members of the server's organization can do this";
