// CPU time and memory of the benchmark's processes, read from /proc (Linux), so that a run shows
// which process saturates the machine (a gateway, a subgraph, PostgreSQL, the load generator) and
// how much of it went to processes that are not part of the benchmark at all.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Named groups of processes: one pid for a service, every backend for PostgreSQL. */
export type ProcessGroups = Record<string, number[]>;

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
function statFields(pid: number): string[] | null {
  const stat = readProc(pid, 'stat');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : null;
}

const allPids = () => readdirSync('/proc').map(Number).filter(Number.isInteger);

/** Direct children of this process whose command line contains one of `entries`, by name. */
export function findChildren(entries: Record<string, string>): Record<string, number> {
  const found: Record<string, number> = {};
  for (const pid of allPids()) {
    if (Number(statFields(pid)?.[1]) !== process.pid) continue;
    const cmdline = readProc(pid, 'cmdline')?.split('\0').join(' ') ?? '';
    for (const [name, entry] of Object.entries(entries)) if (cmdline.includes(entry)) found[name] = pid;
  }
  return found;
}

/** Every process whose command name is `command` (e.g. each PostgreSQL backend). */
export function findByCommand(command: string): number[] {
  return allPids().filter((pid) => readProc(pid, 'comm')?.trim() === command);
}

/** User plus system CPU seconds the process has used so far, or null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat; the slice above starts at field 3.
  return fields ? (Number(fields[11]) + Number(fields[12])) / clockTicks : null;
}

export const isRunning = (pid: number) => readProc(pid, 'stat') !== null;

export function rssMb(pid: number): number {
  const match = readProc(pid, 'status')?.match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * The process' proportional set size in MB: its private memory plus its share of pages it shares
 * with others (the node binary, mapped by every process). Summed over processes, unlike RSS, it
 * counts shared pages once.
 */
export function pssMb(pid: number): number {
  const match = readProc(pid, 'smaps_rollup')?.match(/^Pss:\s+(\d+) kB/m);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Busy and total jiffies of all cores, from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const values = fields.map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  // idle and iowait are the 4th and 5th fields.
  return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total };
}

/**
 * CPU seconds used by a group between two readings. A process absent from the first reading started
 * since (a PostgreSQL backend for a pool's new connection, say): all of its time counts.
 */
function groupDelta(before: Map<number, number | null>, pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const start = before.has(pid) ? before.get(pid) : 0;
    const end = cpuSeconds(pid);
    if (start != null && end != null) sum += end - start;
  }
  return sum;
}

/**
 * Starts measuring; the returned function gives each group's CPU use since, in % of one core, plus
 * `machine` (all cores busy, out of 100 × cores) and `other` (what no group accounts for). Groups
 * given as a function are looked up again at the end, so that processes started meanwhile count.
 */
export function startCpuMeter(groups: ProcessGroups | (() => ProcessGroups)): () => Record<string, number> {
  const groupsNow = typeof groups === 'function' ? groups : () => groups;
  const startedAt = performance.now();
  const machineBefore = machineTicks();
  const before = new Map(
    Object.values(groupsNow())
      .flat()
      .map((pid) => [pid, cpuSeconds(pid)] as const),
  );
  return () => {
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const machineAfter = machineTicks();
    const machine = ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * cpus().length * 100;
    const perGroup = Object.fromEntries(
      Object.entries(groupsNow()).map(([name, pids]) => [name, (groupDelta(before, pids) / wallSeconds) * 100]),
    );
    const accounted = Object.values(perGroup).reduce((sum, v) => sum + v, 0);
    return { ...perGroup, other: Math.max(0, machine - accounted), machine };
  };
}

/**
 * Samples the resident memory of `pids` every `intervalMs` until stopped; the returned function
 * gives each pid's peak in MB over the sampling (read once more at the end).
 */
export function startRssSampler(pids: number[], intervalMs = 200): () => Map<number, number> {
  const peaks = new Map(pids.map((pid) => [pid, 0]));
  const sample = () => {
    for (const pid of pids) {
      const rss = rssMb(pid);
      if (rss > (peaks.get(pid) ?? 0)) peaks.set(pid, rss);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return peaks;
  };
}

/** The process' peak resident memory over its whole life (VmHWM), in MB. */
export function rssHighWaterMb(pid: number): number {
  const match = readProc(pid, 'status')?.match(/^VmHWM:\s+(\d+) kB/m);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Waits until `pids` together use less than `thresholdPct` of a core over `windowMs`, or `timeoutMs`
 * has passed: a load generator abandons its requests in flight when a round ends, and the target
 * would otherwise still be answering them while the next round measures something else.
 */
export async function waitForIdle(
  pids: number[],
  options: { thresholdPct?: number; windowMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const { thresholdPct = 10, windowMs = 250, timeoutMs = 15_000 } = options;
  const deadline = Date.now() + timeoutMs;
  let used = Number.POSITIVE_INFINITY;
  while (Date.now() < deadline) {
    const since = startCpuMeter({ target: pids });
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    used = since()['target'] ?? 0;
    if (used < thresholdPct) break;
  }
  return used;
}
