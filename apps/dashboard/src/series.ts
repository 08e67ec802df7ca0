import type { Granularity, UsageSeriesQuery, UsageSummaryQuery, UsageUpdatedSubscription } from '@mindweave/sdk';

export type LiveEvent = UsageUpdatedSubscription['usageUpdated'];
export type Summary = NonNullable<UsageSummaryQuery['organization']>['usage'];
export type Point = UsageSeriesQuery['usageSeries'][number];
export type Metric = 'tokens' | 'requests' | 'costUsd';

/** The periods the usage page offers; each reads `usageSeries` at one granularity. */
export const ranges = {
  '24h': { label: 'Last 24 hours', hours: 24, granularity: 'HOUR' },
  '7d': { label: 'Last 7 days', hours: 7 * 24, granularity: 'HOUR' },
  '30d': { label: 'Last 30 days', hours: 30 * 24, granularity: 'DAY' },
  '90d': { label: 'Last 90 days', hours: 90 * 24, granularity: 'DAY' },
} as const satisfies Record<string, { label: string; hours: number; granularity: Granularity }>;
export type RangeKey = keyof typeof ranges;

const bucketMs: Record<Granularity, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

/** The start of the UTC bucket `time` falls in (the analytics subgraph's buckets are UTC). */
export const bucketOf = (time: number, granularity: Granularity) => Math.floor(time / bucketMs[granularity]) * bucketMs[granularity];

/** The period a range covers, ending now: `from` on a bucket boundary, so the first bucket is whole. */
export function periodOf(range: RangeKey, now = Date.now()): { from: string; to: string; granularity: Granularity } {
  const { hours, granularity } = ranges[range];
  const from = bucketOf(now - hours * 3_600_000, granularity) + bucketMs[granularity];
  return { from: new Date(from).toISOString(), to: new Date(now).toISOString(), granularity };
}

export const metricValue = (point: Point, metric: Metric) =>
  metric === 'tokens' ? point.inputTokens + point.outputTokens : metric === 'requests' ? point.requests : point.costUsd;

/**
 * Adds a live event to the series: to its bucket, or to a new last bucket once the clock has moved
 * into one (the oldest bucket then leaves, so the window keeps its length). Events older than the
 * first bucket are left out.
 */
export function addToSeries(points: readonly Point[], event: LiveEvent, granularity: Granularity): Point[] {
  const bucket = bucketOf(Date.parse(event.occurredAt), granularity);
  const first = points[0] ? Date.parse(points[0].bucket) : bucket;
  if (bucket < first) return [...points];
  const add = (point: Point): Point => ({
    ...point,
    requests: point.requests + 1,
    inputTokens: point.inputTokens + event.inputTokens,
    outputTokens: point.outputTokens + event.outputTokens,
    costUsd: point.costUsd + event.costUsd,
  });
  const index = points.findIndex((p) => Date.parse(p.bucket) === bucket);
  if (index >= 0) return points.map((p, i) => (i === index ? add(p) : p));
  const next = [...points];
  const last = points.at(-1) ? Date.parse(points.at(-1)!.bucket) : bucket - bucketMs[granularity];
  for (let time = last + bucketMs[granularity]; time <= bucket; time += bucketMs[granularity]) {
    next.push({ bucket: new Date(time).toISOString(), requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
  }
  next[next.length - 1] = add(next[next.length - 1]!);
  return next.slice(Math.max(0, next.length - Math.max(points.length, 1)));
}

type Totals = Summary['totals'];
const plus = (totals: Totals, event: LiveEvent): Totals => ({
  ...totals,
  requests: totals.requests + 1,
  inputTokens: totals.inputTokens + event.inputTokens,
  outputTokens: totals.outputTokens + event.outputTokens,
  costUsd: totals.costUsd + event.costUsd,
});
const none: Totals = { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

/** Adds a live event to the period's totals, its model's row and its project's row. */
export function addToSummary(summary: Summary, event: LiveEvent): Summary {
  const models = summary.topModels.some((m) => m.model === event.model)
    ? summary.topModels
    : [...summary.topModels, { model: event.model, totals: none }];
  const projects = summary.costByProject.some((p) => p.project.id === event.project.id)
    ? summary.costByProject
    : [...summary.costByProject, { project: { id: event.project.id, name: event.project.name }, totals: none }];
  return {
    ...summary,
    totals: plus(summary.totals, event),
    topModels: models
      .map((m) => (m.model === event.model ? { ...m, totals: plus(m.totals, event) } : m))
      .sort((a, b) => b.totals.costUsd - a.totals.costUsd || b.totals.requests - a.totals.requests),
    costByProject: projects
      .map((p) => (p.project.id === event.project.id ? { ...p, totals: plus(p.totals, event) } : p))
      .sort((a, b) => b.totals.costUsd - a.totals.costUsd),
  };
}
