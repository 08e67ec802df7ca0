import type { GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import { queryFromInfo } from '@pothos/plugin-prisma';
import { conflict, notFound } from '@mindweave/errors';
import { isUniqueViolation, requireUserId, type SubgraphContext } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { directory, isUuid, serverLoader, visibleAmong, visibleOrganizationIds, visibleServers } from '../access.ts';
import { decodeCursor, encodeCursor, refreshSearchVector, searchServers } from '../search.ts';
import { Visibility as VisibilityValues } from '../generated/prisma/enums.ts';
import type { McpServer as McpServerRow, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';

export const Visibility = builder.enumType(VisibilityValues, {
  name: 'Visibility',
  description: 'PUBLIC servers are listed for everyone; PRIVATE ones only for their organization (its members, and its API keys with mcp:read).',
});

const newestFirst: Prisma.McpServerOrderByWithRelationInput[] = [{ createdAt: 'desc' }, { id: 'desc' }];

export const McpServer = builder.prismaObject('McpServer', {
  description: 'An MCP server in the registry, published by an organization.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    description: t.exposeString('description'),
    visibility: t.expose('visibility', { type: Visibility }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    latestVersion: t.relation('latestVersion', { nullable: true, description: 'The highest version that is not deprecated.' }),
    versions: t.relation('versions', {
      description: 'Published versions, the highest first, deprecated ones included.',
      args: { first: t.arg.int({ defaultValue: 20, validate: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish() }) },
      query: (args) => ({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: args.first ?? 20 }),
      listSize: { slicingArguments: ['first'], requireOneSlicingArgument: false },
    }),
    // The accounts subgraph resolves the organization itself (for callers who may see it).
    publisher: t.field({ type: Organization, resolve: (server) => ({ id: server.organizationId }) }),
  }),
});

// Other subgraphs may only resolve servers the caller can see.
builder.asEntity(McpServer, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (server, ctx) => serverLoader(ctx).load(server.id),
});

const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  shareable: true,
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass it as `after` for the next page.' }),
  }),
});

type Edge = { cursor: string; node: McpServerRow };
type Connection = { edges: Edge[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: () => Promise<number> };

const McpServerEdge = builder.objectRef<Edge>('McpServerEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: McpServer, resolve: (edge) => edge.node }),
  }),
});

const McpServerConnection = builder.objectRef<Connection>('McpServerConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [McpServerEdge], resolve: (connection) => connection.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
    // Counted only when asked for.
    totalCount: t.int({ description: 'Servers matching, across all pages.', resolve: (connection) => connection.totalCount() }),
  }),
});

const pageArgs = {
  first: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish(),
  search: z.string().max(200, 'must be at most 200 characters').nullish(),
};
const connectionSize = { slicingArguments: ['first'], sizedFields: ['edges'], requireOneSlicingArgument: false };

/**
 * A page of the servers the caller may see (of one organization, with `organizationId`): ranked
 * by `search` when there is one, newest first otherwise. Nodes are loaded with the selection the
 * document makes under `edges.node`, in one query per page.
 */
async function serverConnection(
  ctx: SubgraphContext,
  info: GraphQLResolveInfo,
  args: { search?: string | null; first?: number | null; after?: string | null; organizationId?: string },
): Promise<Connection> {
  const first = args.first ?? 20;
  const search = args.search?.trim() || null;
  // An organization reference that is not an id of ours has no servers (and must not reach a uuid column).
  if (args.organizationId !== undefined && !isUuid(args.organizationId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: () => Promise.resolve(0) };
  const organizationIds = await visibleOrganizationIds(ctx);
  const nodeQuery = queryFromInfo({ context: ctx, info, path: ['edges', 'node'] }) as { select?: Prisma.McpServerSelect; include?: Prisma.McpServerInclude };

  if (search) {
    const after = args.after ? decodeCursor(args.after, 'search') : null;
    const { hits, hasNextPage, totalCount } = await searchServers({ search, first, after, visibleOrganizationIds: organizationIds });
    const rows = hits.length ? await prisma.mcpServer.findMany({ ...nodeQuery, where: { id: { in: hits.map((hit) => hit.id) } } }) : [];
    const byId = new Map(rows.map((row) => [row.id, row]));
    const edges = hits.flatMap((hit) => {
      const node = byId.get(hit.id);
      return node ? [{ cursor: encodeCursor({ kind: 'search', ...hit }), node }] : [];
    });
    return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: () => Promise.resolve(totalCount) };
  }

  const after = args.after ? decodeCursor(args.after, 'newest') : null;
  const scope: Prisma.McpServerWhereInput = { AND: [visibleAmong(organizationIds), args.organizationId ? { organizationId: args.organizationId } : {}] };
  const startAfter: Prisma.McpServerWhereInput = after
    ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }
    : {};
  const rows = (await prisma.mcpServer.findMany({ ...nodeQuery, where: { AND: [scope, startAfter] }, orderBy: newestFirst, take: first + 1 })) as McpServerRow[];
  const edges = rows.slice(0, first).map((node) => ({ cursor: encodeCursor({ kind: 'newest', createdAt: node.createdAt, id: node.id }), node }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: () => prisma.mcpServer.count({ where: scope }),
  };
}

builder.queryFields((t) => ({
  mcpServers: t.field({
    type: McpServerConnection,
    description:
      'MCP servers the caller may see: public ones (to anyone, signed in or not) and the private ones of its organizations. With `search` (words, "quoted phrases", `or`, `-word`), ranked by where they match: name first, then tool names, then description; newest first otherwise.',
    args: {
      search: t.arg.string({ validate: pageArgs.search }),
      first: t.arg.int({ defaultValue: 20, validate: pageArgs.first }),
      after: t.arg.string(),
    },
    listSize: connectionSize,
    resolve: (_root, args, ctx, info) => serverConnection(ctx, info, args),
  }),
  mcpServer: t.prismaField({
    type: 'McpServer',
    nullable: true,
    description: 'A server by its slug; NOT_FOUND for an unknown one and for a private server of another organization.',
    args: { slug: t.arg.string({ required: true }) },
    resolve: async (query, _root, { slug }, ctx) => {
      const server = await prisma.mcpServer.findFirst({ ...query, where: { AND: [{ slug }, await visibleServers(ctx)] } });
      if (!server) throw notFound('MCP server');
      return server;
    },
  }),
}));

builder.objectField(Organization, 'mcpServers', (t) =>
  t.field({
    type: McpServerConnection,
    description: "The organization's MCP servers the caller may see (private ones only for its members, and its API keys with mcp:read), newest first.",
    args: {
      first: t.arg.int({ defaultValue: 20, validate: pageArgs.first }),
      after: t.arg.string(),
    },
    listSize: connectionSize,
    resolve: (organization, args, ctx, info) => serverConnection(ctx, info, { ...args, organizationId: organization.id }),
  }),
);

const RegisterMcpServerInput = builder.inputType('RegisterMcpServerInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters') }),
    slug: t.string({
      required: true,
      validate: z
        .string()
        .min(3, 'must be at least 3 characters')
        .max(64, 'must be at most 64 characters')
        .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase letters, digits and single dashes'),
    }),
    description: t.string({ required: true, validate: z.string().trim().max(2000, 'must be at most 2000 characters') }),
    visibility: t.field({ type: Visibility, required: true }),
  }),
});

builder.mutationField('registerMcpServer', (t) =>
  t.prismaField({
    type: 'McpServer',
    description: 'Registers a server for an organization. Only its OWNER and ADMIN members can; slugs are unique across the registry.',
    authenticated: true,
    requiresScopes: [['mcp:write']],
    args: { input: t.arg({ type: RegisterMcpServerInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      await directory.requireRole(ctx, organizationId);
      const createdById = requireUserId(ctx);
      return prisma
        .$transaction(async (tx) => {
          const server = await tx.mcpServer.create({
            ...query,
            data: { organizationId, name: input.name, slug: input.slug, description: input.description, visibility: input.visibility, createdById },
          });
          await refreshSearchVector(tx, server.id);
          return server;
        })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw conflict(`The slug "${input.slug}" is taken`, 'input.slug');
          throw error;
        });
    },
  }),
);
