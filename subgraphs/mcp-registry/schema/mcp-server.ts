import type { GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import { queryFromInfo } from '@pothos/plugin-prisma';
import { conflict, notFound } from '@mindweave/errors';
import {
  connectionListSize,
  isUniqueViolation,
  isUuid,
  keysetConnection,
  newestFirst,
  pageSize,
  requireUserId,
  type ConnectionArgs,
  type Page,
  type SubgraphContext,
} from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { directory, serverLoader, visibleAmong, visibleOrganizationIds, visibleServers } from '../access.ts';
import { bestMatchFirst, refreshSearchVector, searchServers } from '../search.ts';
import { Visibility as VisibilityValues } from '../generated/prisma/enums.ts';
import type { McpServer as McpServerRow, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';

export const Visibility = builder.enumType(VisibilityValues, {
  name: 'Visibility',
  description:
    'PUBLIC servers are listed for everyone; PRIVATE ones only for their organization (its members, and its API keys with mcp:read).',
});

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
      args: {
        first: t.arg.int({
          defaultValue: 20,
          validate: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').nullish(),
        }),
      },
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

// Counted only when asked for.
type Counted = { totalCount: () => Promise<number> };

const McpServerConnection = builder.connectionObject<typeof McpServer, Counted>(
  {
    type: McpServer,
    name: 'McpServerConnection',
    fields: (t) => ({
      totalCount: t.int({ description: 'Servers matching, across all pages.', resolve: (connection) => connection.totalCount() }),
    }),
  },
  { name: 'McpServerEdge' },
);

const pageArgs = {
  search: z.string().max(200, 'must be at most 200 characters').nullish(),
};

/**
 * A page of the servers the caller may see (of one organization, with `organizationId`): ranked
 * by `search` when there is one, newest first otherwise. Nodes are loaded with the selection the
 * document makes under `edges.node`, in one query per page.
 */
async function serverConnection(
  ctx: SubgraphContext,
  info: GraphQLResolveInfo,
  args: ConnectionArgs & { search?: string | null; organizationId?: string },
): Promise<Page<McpServerRow> & Counted> {
  const search = args.search?.trim() || null;
  // An organization reference that is not an id of ours has no servers (and must not reach a uuid column).
  if (args.organizationId !== undefined && !isUuid(args.organizationId)) {
    return {
      ...(await keysetConnection({ first: args.first }, newestFirst, () => Promise.resolve([]))),
      totalCount: () => Promise.resolve(0),
    };
  }
  const organizationIds = await visibleOrganizationIds(ctx);
  const nodeQuery = queryFromInfo({ context: ctx, info, path: ['edges', 'node'] }) as {
    select?: Prisma.McpServerSelect;
    include?: Prisma.McpServerInclude;
  };

  if (search) {
    let totalCount = 0;
    const page = await keysetConnection(args, bestMatchFirst, async ({ after, limit }) => {
      const found = await searchServers({ search, limit, after, visibleOrganizationIds: organizationIds });
      totalCount = found.totalCount;
      const rows = found.hits.length
        ? await prisma.mcpServer.findMany({ ...nodeQuery, where: { id: { in: found.hits.map((hit) => hit.id) } } })
        : [];
      const byId = new Map(rows.map((row) => [row.id, row]));
      return found.hits.flatMap((hit) => {
        const node = byId.get(hit.id);
        return node ? [{ ...node, ...hit }] : [];
      });
    });
    return { ...page, totalCount: () => Promise.resolve(totalCount) };
  }

  const scope: Prisma.McpServerWhereInput = {
    AND: [visibleAmong(organizationIds), args.organizationId ? { organizationId: args.organizationId } : {}],
  };
  const page = await keysetConnection(
    args,
    newestFirst,
    ({ after, limit }) =>
      prisma.mcpServer.findMany({
        ...nodeQuery,
        where: { AND: [scope, after ? newestFirst.after(after) : {}] },
        orderBy: newestFirst.orderBy,
        take: limit,
      }) as Promise<McpServerRow[]>,
  );
  return { ...page, totalCount: () => prisma.mcpServer.count({ where: scope }) };
}

builder.queryFields((t) => ({
  mcpServers: t.field({
    type: McpServerConnection,
    description:
      'MCP servers the caller may see: public ones (to anyone, signed in or not) and the private ones of its organizations. With `search` (words, "quoted phrases", `or`, `-word`), ranked by where they match: name first, then tool names, then description; newest first otherwise.',
    args: {
      search: t.arg.string({ validate: pageArgs.search }),
      first: t.arg.int({ defaultValue: 20, validate: pageSize }),
      after: t.arg.string(),
    },
    listSize: connectionListSize,
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
    description:
      "The organization's MCP servers the caller may see (private ones only for its members, and its API keys with mcp:read), newest first.",
    args: {
      first: t.arg.int({ defaultValue: 20, validate: pageSize }),
      after: t.arg.string(),
    },
    listSize: connectionListSize,
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
            data: {
              organizationId,
              name: input.name,
              slug: input.slug,
              description: input.description,
              visibility: input.visibility,
              createdById,
            },
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
