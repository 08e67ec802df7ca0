import { noisyOtherCpu, round2, table, type TargetSummary } from '../lib/report.ts';

export { formatRound, summarize, type Measured, type TargetSummary } from '../lib/report.ts';

export interface Report {
  summaries: Record<string, TargetSummary>;
  ratio: { throughput: number; p99: number };
  settings: Record<string, unknown>;
}

export function buildReport(mindweave: TargetSummary, plain: TargetSummary, settings: Record<string, unknown>): Report {
  return {
    summaries: { mindweave, plain },
    ratio: { throughput: round2(mindweave.rps / plain.rps), p99: round2(mindweave.p99Ms / plain.p99Ms) },
    settings,
  };
}

export function formatReport(report: Report): string {
  const entries = Object.entries(report.summaries);
  const results = table(
    ['target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'gateway RSS MB'],
    entries.map(([name, s]) => [name, s.rps, s.p50Ms, s.p99Ms, s.errors, s.rssMb]),
  );
  const cpuNames = Object.keys(entries[0]?.[1].cpu ?? {});
  const cpu = table(
    ['CPU % of one core during', ...cpuNames],
    entries.map(([name, s]) => [name, ...cpuNames.map((n) => s.cpu[n] ?? 0)]),
  );
  const ratios = `mindweave/plain: throughput ${report.ratio.throughput}, p99 ${report.ratio.p99}`;
  const busiestOther = Math.max(...entries.map(([, s]) => s.cpu['other'] ?? 0));
  const noise =
    busiestOther > noisyOtherCpu
      ? `\nwarning: processes outside the benchmark used up to ${busiestOther}% of a core during the rounds; the machine was not quiet\n`
      : '';
  return `\n${results}\n\n${ratios}\n\n${cpu}\n(CPU in % of one core; postgres and redis are the whole servers, other is what no column accounts for, machine is all cores)\n${noise}`;
}

/** One line for the README: the settings, each target's numbers and the ratios. */
export function summaryLine(report: Report): string {
  const targets = Object.fromEntries(
    Object.entries(report.summaries).map(([name, s]) => [
      name,
      { rps: s.rps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: s.errors, rssMb: s.rssMb, otherCpuPct: s.cpu['other'] ?? 0 },
    ]),
  );
  return JSON.stringify({ ...report.settings, ...targets, ratio: report.ratio });
}
