import { describe, expect, it } from 'vitest';
import { addToSeries, addToSummary, bucketOf, periodOf, metricValue, type LiveEvent, type Point, type Summary } from './series.ts';

const hour = 3_600_000;
const point = (time: number, tokens = 0): Point => ({
  bucket: new Date(time).toISOString(),
  requests: tokens ? 1 : 0,
  inputTokens: tokens,
  outputTokens: 0,
  costUsd: 0,
});
const event = (occurredAt: number, model = 'gpt-4o-mini', projectId = 'p1'): LiveEvent => ({
  id: `e-${occurredAt}`,
  model,
  inputTokens: 100,
  outputTokens: 50,
  costUsd: 0.5,
  unpricedModel: false,
  latencyMs: 10,
  occurredAt: new Date(occurredAt).toISOString(),
  project: { id: projectId, name: projectId },
  organization: { id: 'o', name: 'Org' },
});

describe('periodOf', () => {
  it('ends now and starts on a bucket boundary, so that the first bucket is whole', () => {
    const now = Date.parse('2026-03-10T12:34:56Z');
    expect(periodOf('24h', now)).toEqual({ from: '2026-03-09T13:00:00.000Z', to: '2026-03-10T12:34:56.000Z', granularity: 'HOUR' });
    expect(periodOf('30d', now)).toEqual({ from: '2026-02-09T00:00:00.000Z', to: '2026-03-10T12:34:56.000Z', granularity: 'DAY' });
  });
});

describe('addToSeries', () => {
  const start = bucketOf(Date.parse('2026-03-10T10:00:00Z'), 'HOUR');
  const points = [point(start), point(start + hour, 10), point(start + 2 * hour, 20)];

  it('adds an event to the bucket it falls in', () => {
    const next = addToSeries(points, event(start + hour + 5 * 60_000), 'HOUR');
    expect(next.map((p) => metricValue(p, 'tokens'))).toEqual([0, 160, 20]);
    expect(next[1]).toMatchObject({ requests: 2, costUsd: 0.5 });
    expect(points[1]!.inputTokens).toBe(10);
  });

  it('opens the buckets up to a later event, keeping the window’s length', () => {
    const next = addToSeries(points, event(start + 4 * hour + 1), 'HOUR');
    expect(next.map((p) => p.bucket)).toEqual([start + 2 * hour, start + 3 * hour, start + 4 * hour].map((t) => new Date(t).toISOString()));
    expect(next.map((p) => metricValue(p, 'tokens'))).toEqual([20, 0, 150]);
  });

  it('leaves out events older than the window', () => {
    expect(addToSeries(points, event(start - 1), 'HOUR')).toEqual(points);
  });
});

describe('addToSummary', () => {
  const totals = { requests: 1, inputTokens: 10, outputTokens: 0, costUsd: 0.1 };
  const summary: Summary = {
    from: '',
    to: '',
    totals,
    topModels: [{ model: 'gpt-4o-mini', totals }],
    costByProject: [{ project: { id: 'p1', name: 'p1' }, totals }],
  };

  it('adds to the totals, to the model’s and project’s rows, and adds rows for new ones in cost order', () => {
    const next = addToSummary(summary, event(0, 'claude-3-5-haiku', 'p2'));
    expect(next.totals).toEqual({ requests: 2, inputTokens: 110, outputTokens: 50, costUsd: 0.6 });
    expect(next.topModels.map((m) => [m.model, m.totals.requests])).toEqual([
      ['claude-3-5-haiku', 1],
      ['gpt-4o-mini', 1],
    ]);
    expect(next.costByProject.map((p) => p.project.id)).toEqual(['p2', 'p1']);
    expect(addToSummary(next, event(1, 'gpt-4o-mini', 'p1')).topModels.find((m) => m.model === 'gpt-4o-mini')?.totals.requests).toBe(2);
  });
});
