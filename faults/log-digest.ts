import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// When a fault fails, CI keeps only what the suite printed: the services' own warnings and errors
// since the fault struck, summed up by message, say which service did not recover and why.

interface LogLine {
  /** ISO 8601 (the services' loggers), or epoch milliseconds (pino's default). */
  time?: string | number;
  level?: number;
  msg?: string;
  err?: { message?: string; type?: string };
}

/** Each log's warnings and errors (pino levels 40+) written at or after `sinceMs`, counted by message and error, most frequent first. */
export function digestOf(text: string, sinceMs: number, top = 6): { count: number; what: string }[] {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40 || new Date(entry.time ?? 0).getTime() < sinceMs) continue;
    // Prisma's messages start with the invocation and a code frame: the last line says what failed.
    const reason = entry.err?.message?.trim().split('\n').at(-1)?.slice(0, 160);
    const what = `${entry.msg ?? '(no message)'}${reason ? ` | ${reason}` : ''}`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return [...counts]
    .map(([what, count]) => ({ count, what }))
    .sort((a, b) => b.count - a.count)
    .slice(0, top);
}

/** Every service's digest (logs named `<service>-<started at>.log` in `dir`), as lines to print. */
export async function digestLogs(dir: string, sinceMs: number): Promise<string[]> {
  const lines: string[] = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.log')).sort()) {
    const digest = digestOf(await readFile(join(dir, file), 'utf8'), sinceMs);
    if (!digest.length) continue;
    lines.push(`  ${file.replace(/-\d+\.log$/, '')}:`);
    for (const { count, what } of digest) lines.push(`    ${String(count).padStart(6)}  ${what}`);
  }
  return lines;
}
