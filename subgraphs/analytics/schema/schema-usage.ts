import pg from 'pg';
import { badUserInput, forbidden } from '@mindweave/errors';
import { latestPublishedVersion } from '@mindweave/schema-tools/registry';
import { readUsage, unusedFields, usageOverTime, type Bucket, type ClientUsage, type UsagePoint } from '@mindweave/schema-tools/usage';
import { createLogger } from '@mindweave/service-kit';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { env } from '../env.ts';
import { memberships } from '../memberships.ts';
import { Granularity } from './usage.ts';

// The schema registry's usage tables belong to packages/schema-tools: read only through its functions.
const registry = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2, idleTimeoutMillis: 30_000 });
// An idle connection that PostgreSQL ends (a restart) is replaced at the next query; unhandled, its
// error would end the process.
const log = createLogger({ name: 'analytics', level: env.LOG_LEVEL });
registry.on('error', (error) => log.warn({ err: error }, 'an idle schema registry connection failed'));

/**
 * Schema usage describes every client of the platform, not one tenant: owners and admins of the
 * platform organization (PLATFORM_ORGANIZATION_ID) see it. Operators read the same through
 * `pnpm schema check`/`unused` with the registry's DATABASE_URL.
 */
async function requirePlatformAdmin(ctx: SubgraphContext) {
  const platform = env.PLATFORM_ORGANIZATION_ID;
  const access = platform && ctx.identity.kind === 'user' ? await memberships.accessTo(ctx, platform) : null;
  if (access?.kind !== 'member' || (access.role !== 'OWNER' && access.role !== 'ADMIN')) {
    throw forbidden('Schema usage is for owners and admins of the platform organization');
  }
}

const buckets: Record<'MINUTE' | 'HOUR' | 'DAY', Bucket> = { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' };
const maxDays = 90;

function daysArg(days: number | null | undefined, fallback: number) {
  const value = days ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > maxDays) throw badUserInput(`days: from 1 to ${maxDays}`, 'days');
  return value;
}

const OperationUsagePoint = builder.objectRef<UsagePoint>('OperationUsagePoint').implement({
  description: 'Requests of one operation by one client version in one bucket.',
  fields: (t) => ({
    bucket: t.expose('bucket', { type: 'DateTime' }),
    operationHash: t.exposeString('hash', { description: 'sha256 of the document' }),
    operationName: t.string({ nullable: true, resolve: (p) => p.name || null }),
    clientName: t.exposeString('clientName', { description: 'apollographql-client-name or x-client-name; empty when not sent' }),
    clientVersion: t.exposeString('clientVersion'),
    requests: t.exposeFloat('requests'),
    errors: t.exposeFloat('errors', { description: 'Requests answered with errors' }),
  }),
});

const OperationClientUsage = builder.objectRef<ClientUsage>('OperationClientUsage').implement({
  description: "One operation's use by one client over a period.",
  fields: (t) => ({
    operationHash: t.exposeString('hash'),
    operationName: t.string({ nullable: true, resolve: (u) => u.name || null }),
    operationType: t.exposeString('type'),
    clientName: t.exposeString('clientName'),
    clientVersions: t.exposeStringList('clientVersions'),
    requests: t.exposeFloat('requests'),
    errors: t.exposeFloat('errors'),
    lastSeen: t.expose('lastSeen', { type: 'DateTime' }),
  }),
});

type FieldUsageResult = { coordinate: string; days: number; operations: ClientUsage[] };

const FieldUsage = builder.objectRef<FieldUsageResult>('FieldUsage').implement({
  description: 'Who used a schema coordinate (Type.field, Type.field.argument, Enum.VALUE) over the last days.',
  fields: (t) => ({
    coordinate: t.exposeString('coordinate'),
    days: t.exposeInt('days'),
    requests: t.float({ resolve: (u) => u.operations.reduce((sum, op) => sum + op.requests, 0) }),
    clients: t.stringList({ resolve: (u) => [...new Set(u.operations.map((op) => op.clientName))] }),
    operations: t.field({ type: [OperationClientUsage], resolve: (u) => u.operations }),
  }),
});

builder.queryField('operationUsage', (t) =>
  t.field({
    type: [OperationUsagePoint],
    description: 'Operations by client over time, as the routers reported them. Owners and admins of the platform organization.',
    authenticated: true,
    listSize: { assumedSize: 100 },
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      granularity: t.arg({ type: Granularity, required: true }),
      clientName: t.arg.string(),
      first: t.arg.int({ defaultValue: 1_000, description: 'At most this many points (up to 10,000)' }),
    },
    resolve: async (_root, args, ctx) => {
      await requirePlatformAdmin(ctx);
      if (args.from >= args.to) throw badUserInput('from: must be before to', 'from');
      if (args.to.getTime() - args.from.getTime() > maxDays * 86_400_000)
        throw badUserInput(`to: at most ${maxDays} days after from`, 'to');
      const limit = Math.min(Math.max(args.first ?? 1_000, 1), 10_000);
      return usageOverTime(registry, {
        from: args.from,
        to: args.to,
        bucket: buckets[args.granularity],
        clientName: args.clientName ?? undefined,
        limit,
      });
    },
  }),
);

builder.queryField('fieldUsage', (t) =>
  t.field({
    type: FieldUsage,
    description:
      'The operations and clients that used a schema coordinate in the last days. Owners and admins of the platform organization.',
    authenticated: true,
    args: {
      coordinate: t.arg.string({ required: true, description: 'Type.field, Type.field.argument or Enum.VALUE' }),
      days: t.arg.int({ defaultValue: 7 }),
    },
    resolve: async (_root, args, ctx) => {
      await requirePlatformAdmin(ctx);
      if (!/^[_A-Za-z][_0-9A-Za-z]*(\.[_A-Za-z][_0-9A-Za-z]*){0,2}$/.test(args.coordinate))
        throw badUserInput('coordinate: Type, Type.field, Type.field.argument or Enum.VALUE', 'coordinate');
      const days = daysArg(args.days, 7);
      const operations = await readUsage(registry, { from: new Date(Date.now() - days * 86_400_000), coordinate: args.coordinate });
      return { coordinate: args.coordinate, days, operations };
    },
  }),
);

builder.queryField('unusedFields', (t) =>
  t.stringList({
    description:
      "The fields of the registry's latest published schema that no operation used in the last days, as Type.field. Owners and admins of the platform organization.",
    authenticated: true,
    listSize: { assumedSize: 100 },
    args: { days: t.arg.int({ defaultValue: 30 }) },
    resolve: async (_root, args, ctx) => {
      await requirePlatformAdmin(ctx);
      const days = daysArg(args.days, 30);
      const latest = await latestPublishedVersion(env.DATABASE_URL);
      if (!latest) throw badUserInput('No schema is published in the registry yet (`pnpm schema publish`)');
      // Federation's schema tooling is large: loaded by the first caller, not at start.
      const { apiSchemaOf } = await import('@mindweave/schema-tools');
      return unusedFields(apiSchemaOf(latest.supergraph), await readUsage(registry, { from: new Date(Date.now() - days * 86_400_000) }));
    },
  }),
);
