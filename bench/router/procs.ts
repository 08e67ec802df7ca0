// CPU time and memory of the benchmark's processes, read from /proc (Linux), so that a run shows
// which process saturates the machine: a gateway, a subgraph or the load generator itself.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type ProcessNames = Record<string, number>;

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

/** Direct children of this process whose command line contains one of `entries`, by name. */
export function findChildren(entries: Record<string, string>): ProcessNames {
  const found: ProcessNames = {};
  for (const dir of readdirSync('/proc')) {
    const pid = Number(dir);
    if (!Number.isInteger(pid) || Number(statFields(pid)?.[1]) !== process.pid) continue;
    const cmdline = readProc(pid, 'cmdline')?.split('\0').join(' ') ?? '';
    for (const [name, entry] of Object.entries(entries)) if (cmdline.includes(entry)) found[name] = pid;
  }
  return found;
}

/** User plus system CPU seconds the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat; the slice above starts at field 3.
  return fields ? (Number(fields[11]) + Number(fields[12])) / clockTicks : Number.NaN;
}

export function rssMb(pid: number): number {
  const match = readProc(pid, 'status')?.match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Starts measuring; the returned function gives each process' CPU use as % of one core since. */
export function startCpuMeter(processes: ProcessNames): () => Record<string, number> {
  const startedAt = performance.now();
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () => {
    const wallSeconds = (performance.now() - startedAt) / 1000;
    return Object.fromEntries(
      Object.entries(processes).map(([name, pid]) => [name, ((cpuSeconds(pid) - (before[name] ?? 0)) / wallSeconds) * 100]),
    );
  };
}
