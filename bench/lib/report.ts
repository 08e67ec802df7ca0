import { errorCount, type RoundResult } from './load.ts';

/** A measured round with what the processes used during it. */
export interface Measured extends RoundResult {
  /** CPU of each process during the round, in % of one core. */
  cpu: Record<string, number>;
  /** Resident memory of the target's gateway process during the round (its end, or its peak where sampled). */
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
export const noisyOtherCpu = 25;

export const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / (values.length || 1);
export const round1 = (value: number) => Math.round(value * 10) / 10;
export const round2 = (value: number) => Math.round(value * 100) / 100;

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

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function formatRound(index: number, round: Measured): string {
  return `round ${index} ${round.target.padEnd(9)}  ${round1(round.requestsPerSecond)} req/s  p50 ${round.p50Ms} ms  p99 ${round.p99Ms} ms  errors ${errorCount(round)}  gateway RSS ${round1(round.gatewayRssMb)} MB`;
}
