import { useEffect, useMemo, useState } from 'react';
import { MindWeaveError, UsageSeriesDocument, UsageSummaryDocument } from '@mindweave/sdk';
import { client } from '../api.ts';
import type { Scope } from '../app.tsx';
import { formatMetric, metricLabels, UsageChart } from '../chart.tsx';
import { formatCompact, formatDateTime, formatInteger, formatTime, formatUsd } from '../format.ts';
import { useConnection, useLiveUsage, useLoad } from '../hooks.ts';
import {
  addToSeries,
  addToSummary,
  periodOf,
  ranges,
  metricValue,
  type LiveEvent,
  type Metric,
  type RangeKey,
  type Summary,
} from '../series.ts';
import { Empty, Loading, Panel, ProblemMessage, Table } from '../ui.tsx';

const metrics: Metric[] = ['tokens', 'requests', 'costUsd'];
const feedLength = 50;

interface LiveCounters {
  since: string;
  events: number;
  tokens: number;
  costUsd: number;
}

export function UsagePage({ scope }: { scope: Scope }) {
  const organizationId = scope.organization.id;
  const [range, setRange] = useState<RangeKey>('24h');
  const [metric, setMetric] = useState<Metric>('tokens');
  const [refreshed, setRefreshed] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: refreshing moves the period's end to now.
  const period = useMemo(() => periodOf(range), [range, refreshed]);
  const series = useLoad(
    async () => (await client.request(UsageSeriesDocument, { organizationId, ...period })).usageSeries,
    [organizationId, period],
  );
  const summary = useLoad(async () => {
    const { organization } = await client.request(UsageSummaryDocument, {
      organizationId,
      from: period.from,
      to: period.to,
      topModels: 10,
    });
    if (!organization) throw new MindWeaveError('Organization not found', { code: 'NOT_FOUND' });
    return organization.usage;
  }, [organizationId, period]);

  const [feed, setFeed] = useState<LiveEvent[]>([]);
  const [live, setLive] = useState<LiveCounters>(() => ({ since: new Date().toISOString(), events: 0, tokens: 0, costUsd: 0 }));
  const liveProblem = useLiveUsage(organizationId, (event) => {
    setFeed((events) => [event, ...events].slice(0, feedLength));
    setLive((c) => ({
      ...c,
      events: c.events + 1,
      tokens: c.tokens + event.inputTokens + event.outputTokens,
      costUsd: c.costUsd + event.costUsd,
    }));
    series.update((points) => addToSeries(points, event, period.granularity));
    summary.update((s) => addToSummary(s, event));
  });
  const { status, reconnects } = useConnection();
  // Events published while the connection was down are not replayed: read the period again.
  useEffect(() => {
    if (reconnects > 0) setRefreshed((n) => n + 1);
  }, [reconnects]);

  const unit = period.granularity === 'DAY' ? 'day' : 'hour';
  const points = series.data ?? [];
  const latest = points.at(-1);
  const total = points.reduce((sum, p) => sum + metricValue(p, metric), 0);

  return (
    <div className="usage">
      <div className="controls">
        <fieldset className="segmented">
          <legend>Period</legend>
          {(Object.keys(ranges) as RangeKey[]).map((key) => (
            <label key={key}>
              <input type="radio" name="range" value={key} checked={range === key} onChange={() => setRange(key)} />
              {ranges[key].label}
            </label>
          ))}
        </fieldset>
        <fieldset className="segmented">
          <legend>Show</legend>
          {metrics.map((m) => (
            <label key={m}>
              <input type="radio" name="metric" value={m} checked={metric === m} onChange={() => setMetric(m)} />
              {metricLabels[m]}
            </label>
          ))}
        </fieldset>
        <button type="button" className="secondary" onClick={() => setRefreshed((n) => n + 1)}>
          Refresh
        </button>
      </div>

      <Totals summary={summary.data} live={live} status={status} />
      <ProblemMessage problem={summary.problem} onRetry={summary.reload} />

      <Panel
        title={
          <>
            {metricLabels[metric]} per {unit}, {ranges[range].label.toLowerCase()}
          </>
        }
      >
        <ProblemMessage problem={series.problem} onRetry={series.reload} />
        {series.loading && !series.data ? <Loading what="usage" /> : null}
        {series.data ? (
          <figure className="chart-figure" data-latest={latest ? metricValue(latest, metric) : 0} data-total={total}>
            <UsageChart points={points} metric={metric} granularity={period.granularity} />
            <figcaption>
              Total {formatMetric(metric, total)}
              {latest ? (
                <>
                  {' '}
                  · this {unit} (from {formatDateTime(latest.bucket)}):{' '}
                  <span className="latest">{formatMetric(metric, metricValue(latest, metric))}</span>
                </>
              ) : null}
            </figcaption>
            <details>
              <summary>The same numbers as a table</summary>
              <Table columns={[`${unit === 'day' ? 'Day' : 'Hour'} starting`, 'Requests', 'Tokens', 'Cost']}>
                {points.map((p) => (
                  <tr key={p.bucket}>
                    <th scope="row">{formatDateTime(p.bucket)}</th>
                    <td>{formatInteger(p.requests)}</td>
                    <td>{formatInteger(p.inputTokens + p.outputTokens)}</td>
                    <td>{formatUsd(p.costUsd)}</td>
                  </tr>
                ))}
              </Table>
            </details>
          </figure>
        ) : null}
      </Panel>

      <div className="columns">
        <Breakdown
          title="By model"
          rows={(summary.data?.topModels ?? []).map((m) => ({ key: m.model, name: m.model, totals: m.totals }))}
        />
        <Breakdown
          title="By project"
          rows={(summary.data?.costByProject ?? []).map((p) => ({
            key: p.project.id,
            name: p.project.name,
            totals: p.totals,
            current: p.project.id === scope.project?.id,
          }))}
        />
        <LiveFeed feed={feed} problem={liveProblem} />
      </div>
    </div>
  );
}

function Totals({ summary, live, status }: { summary: Summary | undefined; live: LiveCounters; status: string }) {
  const totals = summary?.totals;
  const statusText =
    status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : status === 'down' ? 'Reconnecting…' : 'Not connected';
  return (
    <dl className="stats">
      <div>
        <dt>Requests</dt>
        <dd data-value={totals?.requests ?? ''}>{totals ? formatCompact(totals.requests) : '–'}</dd>
      </div>
      <div>
        <dt>Tokens</dt>
        <dd data-value={totals ? totals.inputTokens + totals.outputTokens : ''}>
          {totals ? formatCompact(totals.inputTokens + totals.outputTokens) : '–'}
        </dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd data-value={totals?.costUsd ?? ''}>{totals ? formatUsd(totals.costUsd) : '–'}</dd>
      </div>
      <div className="live-counters">
        <dt>
          <span className={`live-dot ${status}`} aria-hidden="true" />
          <span role="status" className="live-status">
            {statusText}
          </span>{' '}
          since {formatTime(live.since)}
        </dt>
        <dd data-events={live.events}>
          {formatInteger(live.events)} events · {formatCompact(live.tokens)} tokens · {formatUsd(live.costUsd)}
        </dd>
      </div>
    </dl>
  );
}

interface BreakdownRow {
  key: string;
  name: string;
  totals: Summary['totals'];
  current?: boolean;
}

function Breakdown({ title, rows }: { title: string; rows: BreakdownRow[] }) {
  const max = Math.max(...rows.map((r) => r.totals.costUsd), 0);
  return (
    <Panel title={title}>
      {rows.length === 0 ? (
        <Empty>No usage in this period.</Empty>
      ) : (
        <Table columns={[title === 'By model' ? 'Model' : 'Project', 'Requests', 'Tokens', 'Cost']}>
          {rows.map((row) => (
            <tr key={row.key} className={row.current ? 'current' : undefined}>
              <th scope="row">
                {row.name}
                {row.current ? <span className="visually-hidden"> (selected project)</span> : null}
                <span className="bar" aria-hidden="true" style={{ width: `${max > 0 ? (row.totals.costUsd / max) * 100 : 0}%` }} />
              </th>
              <td>{formatCompact(row.totals.requests)}</td>
              <td>{formatCompact(row.totals.inputTokens + row.totals.outputTokens)}</td>
              <td>{formatUsd(row.totals.costUsd)}</td>
            </tr>
          ))}
        </Table>
      )}
    </Panel>
  );
}

function LiveFeed({ feed, problem }: { feed: LiveEvent[]; problem: ReturnType<typeof useLiveUsage> }) {
  return (
    <Panel title="Live feed" className="feed">
      <ProblemMessage problem={problem} />
      {feed.length === 0 ? <Empty>Usage recorded from now on appears here as it happens.</Empty> : null}
      <ol aria-live="polite" aria-relevant="additions" className="events">
        {feed.map((event) => (
          <li key={event.id}>
            <time dateTime={event.occurredAt}>{formatTime(event.occurredAt)}</time>
            <span className="model">{event.model}</span>
            <span className="project">{event.project.name}</span>
            <span>{formatInteger(event.inputTokens + event.outputTokens)} tokens</span>
            <span>{formatUsd(event.costUsd)}</span>
            {event.unpricedModel ? <span className="tag">unpriced</span> : null}
          </li>
        ))}
      </ol>
    </Panel>
  );
}
