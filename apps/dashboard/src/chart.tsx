import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Granularity } from '@mindweave/sdk';
import { formatCompact, formatUsd } from './format.ts';
import { metricValue, type Metric, type Point } from './series.ts';

export const metricLabels: Record<Metric, string> = { tokens: 'Tokens', requests: 'Requests', costUsd: 'Cost (USD)' };
export const formatMetric = (metric: Metric, value: number) => (metric === 'costUsd' ? formatUsd(value) : formatCompact(value));

const height = 260;
// Blue 700 on white: 6.7:1, readable for the bars and the axis labels alike.
const accent = '#1d4ed8';
const ink = '#1f2937';

function dataOf(points: readonly Point[], metric: Metric): uPlot.AlignedData {
  return [points.map((p) => Date.parse(p.bucket) / 1000), points.map((p) => metricValue(p, metric))];
}

/**
 * Usage per bucket as bars, drawn by uPlot on a canvas. The canvas says nothing to a screen reader,
 * so the component around it gives a summary and the same numbers as a table (UsageTable).
 */
export function UsageChart({ points, metric, granularity }: { points: readonly Point[]; metric: Metric; granularity: Granularity }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // The plot is made once per metric and granularity; new points are given to it below.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the points are set by the effect below, without a new plot.
  useEffect(() => {
    const element = container.current;
    if (!element) return undefined;
    const options: uPlot.Options = {
      width: element.clientWidth || 600,
      height,
      legend: { show: true },
      cursor: { points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [
        { label: granularity === 'DAY' ? 'Day' : 'Hour' },
        {
          label: metricLabels[metric],
          stroke: accent,
          fill: 'rgba(29, 78, 216, 0.7)',
          paths: uPlot.paths.bars!({ size: [0.8, 48], align: 1 }),
          points: { show: false },
          value: (_u, value) => (value === null ? '–' : formatMetric(metric, value)),
        },
      ],
      axes: [
        { stroke: ink, grid: { stroke: '#e5e7eb' } },
        { stroke: ink, grid: { stroke: '#e5e7eb' }, size: 64, values: (_u, splits) => splits.map((v) => formatMetric(metric, v)) },
      ],
    };
    plot.current = new uPlot(options, dataOf(points, metric), element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: element.clientWidth, height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Built again only when what it shows changes; new points go through setData below.
  }, [metric, granularity]);

  useEffect(() => {
    plot.current?.setData(dataOf(points, metric));
  }, [points, metric]);

  return <div ref={container} className="chart" aria-hidden="true" />;
}
