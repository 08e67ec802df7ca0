// Where a process' CPU time went, from a V8 CPU profile (`node --cpu-prof`'s .cpuprofile, or the
// inspector's Profiler.stop): self time per function and per package, idle excluded.
import { relative } from 'node:path';
import { repoRoot } from '../../scripts/stack.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  packages: SelfTime[];
}

/** `@apollo/query-planner`, `graphql`, `node:internal`, `router/` or `(garbage collector)`. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [first, second] = url.slice(modules + '/node_modules/'.length).split('/');
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? url);
  }
  const path = url.startsWith('file://') ? relative(repoRoot, new URL(url).pathname) : url;
  return `${path.split('/')[0]}/`;
}

function locationOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '';
  const modules = frame.url.lastIndexOf('/node_modules/');
  const path =
    modules >= 0
      ? frame.url.slice(modules + '/node_modules/'.length)
      : frame.url.startsWith('file://')
        ? relative(repoRoot, new URL(frame.url).pathname)
        : frame.url;
  return `${path}:${frame.lineNumber + 1}`;
}

const top = (totals: Map<string, number>, busyMs: number, count: number): SelfTime[] =>
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), pct: Math.round((us / 1000 / busyMs) * 1000) / 10 }));

export function summarizeCpuProfile(profile: CpuProfile, count = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = `${frame.functionName || '(anonymous)'} ${locationOf(frame)}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
    const pkg = packageOf(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyMs = busyUs / 1000;
  return {
    busyMs: Math.round(busyMs),
    idleMs: Math.round(idleUs / 1000),
    functions: top(functions, busyMs, count),
    packages: top(packages, busyMs, count),
  };
}
