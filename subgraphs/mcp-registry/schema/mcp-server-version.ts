import semver from 'semver';
import { z } from 'zod';
import { badUserInput, notFound } from '@mindweave/errors';
import { requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireManagedServer } from '../access.ts';
import { inputSchemaProblem } from '../json-schema.ts';
import { refreshSearchVector } from '../search.ts';
import { McpTransport as McpTransportValues } from '../generated/prisma/enums.ts';
import type { Prisma } from '../generated/prisma/client.ts';

export const McpTransport = builder.enumType(McpTransportValues, { name: 'McpTransport' });

export const McpServerVersion = builder.prismaObject('McpServerVersion', {
  fields: (t) => ({
    version: t.exposeString('version', { description: 'A semantic version; each one published is higher than the last.' }),
    transport: t.expose('transport', { type: McpTransport }),
    tools: t.relation('tools', { query: { orderBy: { position: 'asc' } }, listSize: { assumedSize: 50 } }),
    publishedAt: t.expose('createdAt', { type: 'DateTime' }),
    deprecated: t.boolean({ resolve: (version) => version.deprecatedAt !== null }),
    deprecatedAt: t.expose('deprecatedAt', { type: 'DateTime', nullable: true }),
    deprecationReason: t.exposeString('deprecationReason', { nullable: true }),
    server: t.relation('server'),
  }),
});

// Select mode: a listing asking for tool names does not load every input schema.
export const McpTool = builder.prismaObject('McpTool', {
  select: { id: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    inputSchema: t.expose('inputSchema', { type: 'JSON', description: 'The JSON Schema of the arguments the tool takes.' }),
  }),
});

// MCP's guidance for tool names (1-128 characters of A-Z, a-z, 0-9, _, - and .), kept as a rule:
// clients call tools by these names.
const toolName = /^[A-Za-z0-9_.-]{1,128}$/;

const McpToolInput = builder.inputType('McpToolInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().regex(toolName, 'must be 1 to 128 letters, digits, "_", "-" or "."') }),
    description: t.string({ required: true, validate: z.string().trim().max(4000, 'must be at most 4000 characters') }),
    inputSchema: t.field({
      type: 'JSON',
      required: true,
      description: 'A JSON Schema (2020-12 unless `$schema` names draft-07) of type "object".',
      validate: z.unknown().superRefine((schema, issues) => {
        const problem = inputSchemaProblem(schema);
        if (problem) issues.addIssue({ code: 'custom', message: problem });
      }),
    }),
  }),
});

const maxTools = 200;

const PublishMcpServerVersionInput = builder.inputType('PublishMcpServerVersionInput', {
  fields: (t) => ({
    serverId: t.id({ required: true }),
    version: t.string({
      required: true,
      validate: z
        .string()
        .max(64, 'must be at most 64 characters')
        .refine(isCanonicalVersion, 'must be a semantic version such as 1.2.3 (no "v" prefix)'),
    }),
    transport: t.field({ type: McpTransport, required: true }),
    tools: t.field({
      type: [McpToolInput],
      required: true,
      validate: z
        .array(z.object({ name: z.string() }).passthrough())
        .max(maxTools, `must have at most ${maxTools} tools`)
        .superRefine((tools, issues) => {
          const seen = new Set<string>();
          tools.forEach((tool, index) => {
            if (seen.has(tool.name))
              issues.addIssue({ code: 'custom', message: `"${tool.name}" is the name of an earlier tool`, path: [index, 'name'] });
            seen.add(tool.name);
          });
        }),
    }),
  }),
});

/** A semantic version written as semver.org writes it: `1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`, not `v1.2.3`. */
function isCanonicalVersion(value: string): boolean {
  const parsed = semver.parse(value);
  return parsed !== null && `${parsed.version}${parsed.build.length ? `+${parsed.build.join('.')}` : ''}` === value;
}

/** The highest of `versions` (semver order), or undefined. */
const highest = (versions: string[]) => [...versions].sort(semver.rcompare)[0];

/** Serializes changes to one server's versions: publishing and deprecating read, then write. */
async function lockServer(tx: Prisma.TransactionClient, serverId: string) {
  await tx.$executeRaw`SELECT 1 FROM mcp_registry.mcp_servers WHERE id = ${serverId}::uuid FOR UPDATE`;
}

builder.mutationFields((t) => ({
  publishMcpServerVersion: t.prismaField({
    type: 'McpServerVersion',
    description:
      'Publishes a version of a server: higher than every version published before (deprecated ones included), with tools whose input schemas are JSON Schemas. It becomes the latest version and announces `mcp.server.published`. Only OWNER and ADMIN members of its organization can.',
    authenticated: true,
    requiresScopes: [['mcp:write']],
    args: { input: t.arg({ type: PublishMcpServerVersionInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const server = await requireManagedServer(ctx, String(input.serverId));
      const publishedById = requireUserId(ctx);
      return prisma.$transaction(async (tx) => {
        await lockServer(tx, server.id);
        const published = await tx.mcpServerVersion.findMany({ where: { serverId: server.id }, select: { version: true } });
        const top = highest(published.map((v) => v.version));
        if (top !== undefined && !semver.gt(input.version, top)) {
          throw badUserInput(`input.version: must be higher than ${top}, the highest version published`, 'input.version');
        }
        const version = await tx.mcpServerVersion.create({
          data: {
            serverId: server.id,
            version: input.version,
            transport: input.transport,
            publishedById,
            tools: {
              create: input.tools.map((tool, position) => ({
                position,
                name: tool.name,
                description: tool.description,
                inputSchema: tool.inputSchema as Prisma.InputJsonValue,
              })),
            },
          },
        });
        await tx.mcpServer.update({ where: { id: server.id }, data: { latestVersionId: version.id } });
        await refreshSearchVector(tx, server.id);
        await tx.outboxEvent.create({
          data: {
            type: 'mcp.server.published',
            aggregateId: server.id,
            payload: { organizationId: server.organizationId, serverId: server.id, slug: server.slug, version: version.version },
          },
        });
        return tx.mcpServerVersion.findUniqueOrThrow({ ...query, where: { id: version.id } });
      });
    },
  }),
  deprecateMcpServerVersion: t.prismaField({
    type: 'McpServerVersion',
    description:
      'Marks a version deprecated (again, to change the reason). The latest version becomes the highest one not deprecated. Only OWNER and ADMIN members of its organization can.',
    authenticated: true,
    requiresScopes: [['mcp:write']],
    args: {
      serverId: t.arg.id({ required: true }),
      version: t.arg.string({ required: true }),
      reason: t.arg.string({ validate: z.string().trim().max(500, 'must be at most 500 characters').nullish() }),
    },
    resolve: async (query, _root, args, ctx) => {
      const server = await requireManagedServer(ctx, String(args.serverId));
      return prisma.$transaction(async (tx) => {
        await lockServer(tx, server.id);
        const existing = await tx.mcpServerVersion.findUnique({
          where: { serverId_version: { serverId: server.id, version: args.version } },
        });
        if (!existing) throw notFound('MCP server version');
        await tx.mcpServerVersion.update({
          where: { id: existing.id },
          data: { deprecatedAt: existing.deprecatedAt ?? new Date(), deprecationReason: args.reason || null },
        });
        const current = await tx.mcpServerVersion.findMany({
          where: { serverId: server.id, deprecatedAt: null },
          select: { id: true, version: true },
        });
        const latest = highest(current.map((v) => v.version));
        const latestVersionId = current.find((v) => v.version === latest)?.id ?? null;
        await tx.mcpServer.update({ where: { id: server.id }, data: { latestVersionId } });
        await refreshSearchVector(tx, server.id);
        return tx.mcpServerVersion.findUniqueOrThrow({ ...query, where: { id: existing.id } });
      });
    },
  }),
}));
