import { errorCount, type RoundResult } from './load.ts';

/** A measured round with what the processes used during it. */
export interface Measured extends RoundResult {
  /** CPU of each process during the round, in % of one core. */
  cpu: Record<string, number>;
  /** Resident memory of the target's gateway process at the end of the round. */
  gatewayRssMb: number;
}

export interface TargetSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  rssMb: number;
  cpu: Record<string, number>;
}

/** Above this (% of one core), something else on the machine competed with the benchmark. */
const noisyOtherCpu = 25;

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / (values.length || 1);
const round1 = (value: number) => Math.round(value * 10) / 10;
const round2 = (value: number) => Math.round(value * 100) / 100;

/**
 * Percentiles cannot be merged across rounds without the histograms, so p50 and p99 are the mean of
 * each round's; that is enough to compare two targets measured the same way.
 */
export function summarize(rounds: Measured[]): TargetSummary {
  const cpuNames = Object.keys(rounds[0]?.cpu ?? {});
  return {
    rps: round1(mean(rounds.map((r) => r.requestsPerSecond))),
    p50Ms: round1(mean(rounds.map((r) => r.p50Ms))),
    p99Ms: round1(mean(rounds.map((r) => r.p99Ms))),
    errors: rounds.reduce((sum, r) => sum + errorCount(r), 0),
    rssMb: round1(Math.max(...rounds.map((r) => r.gatewayRssMb))),
    cpu: Object.fromEntries(cpuNames.map((name) => [name, Math.round(mean(rounds.map((r) => r.cpu[name] ?? 0)))])),
  };
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function formatRound(index: number, round: Measured): string {
  return `round ${index} ${round.target.padEnd(9)}  ${round1(round.requestsPerSecond)} req/s  p50 ${round.p50Ms} ms  p99 ${round.p99Ms} ms  errors ${errorCount(round)}`;
}

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
  return `\n${results}\n\n${ratios}\n\n${cpu}\n(CPU in % of one core; postgres counts every backend on the machine, machine is all cores busy)\n${noise}`;
}

/** One line for the README: the settings, each target's numbers and the ratios. */
export function summaryLine(report: Report): string {
  const targets = Object.fromEntries(
    Object.entries(report.summaries).map(([name, s]) => [name, { rps: s.rps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: s.errors, rssMb: s.rssMb, otherCpuPct: s.cpu['other'] ?? 0 }]),
  );
  return JSON.stringify({ ...report.settings, ...targets, ratio: report.ratio });
}
