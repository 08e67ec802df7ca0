import { badUserInput } from '@mindweave/errors';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { memberships } from '../memberships.ts';
import { usageLoaders, type Summary, type Totals } from '../usage-summaries.ts';

export const Granularity = builder.enumType('Granularity', { values: ['MINUTE', 'HOUR', 'DAY'] as const });
type Granularity = 'MINUTE' | 'HOUR' | 'DAY';

// The longest range each granularity serves, so that a series stays a dashboard's size.
const maxRangeMs: Record<Granularity, number> = { MINUTE: 7 * 86_400_000, HOUR: 92 * 86_400_000, DAY: 3 * 366 * 86_400_000 };
const truncation: Record<Granularity, string> = { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' };

type Point = { bucket: Date; requests: number; inputTokens: number; outputTokens: number; costUsd: number };

const UsagePoint = builder.objectRef<Point>('UsagePoint').implement({
  fields: (t) => ({
    bucket: t.expose('bucket', { type: 'DateTime' }),
    requests: t.exposeInt('requests'),
    inputTokens: t.exposeInt('inputTokens'),
    outputTokens: t.exposeInt('outputTokens'),
    costUsd: t.exposeFloat('costUsd'),
  }),
});

function checkRange(from: Date, to: Date, granularity: Granularity) {
  if (from >= to) throw badUserInput('from: must be before to', 'from');
  if (to.getTime() - from.getTime() > maxRangeMs[granularity])
    throw badUserInput(`to: at most ${maxRangeMs[granularity] / 86_400_000} days of ${granularity} buckets`, 'to');
}

/** Every bucket of the range, zeros included, from the per-minute rollups. */
async function usageSeries(organizationId: string, from: Date, to: Date, granularity: Granularity): Promise<Point[]> {
  const unit = truncation[granularity];
  const rows = await prisma.$queryRaw<{ bucket: Date; requests: number; inputTokens: number; outputTokens: number; costUsd: number }[]>`
    WITH buckets AS (
      SELECT generate_series(date_trunc(${unit}, ${from}::timestamp), ${to}::timestamp - interval '1 millisecond', ('1 ' || ${unit})::interval) AS bucket
    ), totals AS (
      SELECT date_trunc(${unit}, bucket) AS bucket, sum(requests) AS requests, sum("inputTokens") AS "inputTokens", sum("outputTokens") AS "outputTokens", sum("costUsd") AS "costUsd"
      FROM usage_minutes
      WHERE "organizationId" = ${organizationId}::uuid AND bucket >= date_trunc(${unit}, ${from}::timestamp) AND bucket < ${to}::timestamp
      GROUP BY 1
    )
    SELECT b.bucket, coalesce(t.requests, 0)::float8 AS requests, coalesce(t."inputTokens", 0)::float8 AS "inputTokens",
           coalesce(t."outputTokens", 0)::float8 AS "outputTokens", coalesce(t."costUsd", 0)::float8 AS "costUsd"
    FROM buckets b LEFT JOIN totals t ON t.bucket = b.bucket ORDER BY b.bucket`;
  return rows.map((row) => ({ ...row, costUsd: Math.round(row.costUsd * 1e6) / 1e6 }));
}

builder.queryField('usageSeries', (t) =>
  t.field({
    type: [UsagePoint],
    description: 'Usage of an organization per bucket, zeros included. Members, or its API keys with usage:read.',
    requiresScopes: [['usage:read']],
    listSize: { assumedSize: 60 },
    args: {
      organizationId: t.arg.id({ required: true }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      granularity: t.arg({ type: Granularity, required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const organizationId = String(args.organizationId);
      await memberships.requireAccess(ctx, organizationId);
      checkRange(args.from, args.to, args.granularity);
      return usageSeries(organizationId, args.from, args.to, args.granularity);
    },
  }),
);

const UsageTotals = builder.objectRef<Totals>('UsageTotals').implement({
  fields: (t) => ({
    requests: t.exposeFloat('requests'),
    inputTokens: t.exposeFloat('inputTokens'),
    outputTokens: t.exposeFloat('outputTokens'),
    costUsd: t.exposeFloat('costUsd'),
  }),
});

const ModelUsage = builder.objectRef<Totals & { model: string }>('ModelUsage').implement({
  fields: (t) => ({ model: t.exposeString('model'), totals: t.field({ type: UsageTotals, resolve: (row) => row }) }),
});
const Project = builder
  .externalRef('Project', builder.selection<{ id: string }>('id'))
  .implement({ externalFields: (t) => ({ id: t.id() }) });
const ProjectUsage = builder.objectRef<Totals & { projectId: string }>('ProjectUsage').implement({
  fields: (t) => ({
    project: t.field({ type: Project, resolve: (row) => ({ id: row.projectId }) }),
    totals: t.field({ type: UsageTotals, resolve: (row) => row }),
  }),
});

const UsageSummary = builder.objectRef<Summary>('UsageSummary').implement({
  description: "An organization's usage over a time range, for dashboards.",
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    // Batched: the organizations of a list read each of these in one statement.
    totals: t.field({
      type: UsageTotals,
      resolve: (summary, _args, ctx) => usageLoaders(ctx, summary).totals.load(summary.organizationId),
    }),
    topModels: t.field({
      type: [ModelUsage],
      args: { limit: t.arg.int({ defaultValue: 5 }) },
      listSize: { slicingArguments: ['limit'], requireOneSlicingArgument: false },
      resolve: (summary, { limit }, ctx) =>
        usageLoaders(ctx, summary)
          .topModels(Math.min(Math.max(limit ?? 5, 1), 100))
          .load(summary.organizationId),
    }),
    costByProject: t.field({
      type: [ProjectUsage],
      listSize: { assumedSize: 20 },
      resolve: (summary, _args, ctx) => usageLoaders(ctx, summary).costByProject.load(summary.organizationId),
    }),
  }),
});

// Organizations belong to accounts; analytics adds their usage.
export const Organization = builder.externalRef('Organization', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: (t) => ({
    usage: t.field({
      type: UsageSummary,
      requiresScopes: [['usage:read']],
      description: 'Usage between from and to (default: the current calendar month).',
      args: { from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
      resolve: async (org, args, ctx) => {
        await memberships.requireAccess(ctx, org.id);
        const now = new Date();
        const from = args.from ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
        const to = args.to ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
        if (from >= to) throw badUserInput('from: must be before to', 'from');
        return { organizationId: org.id, from, to };
      },
    }),
  }),
});
