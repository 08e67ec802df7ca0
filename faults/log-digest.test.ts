import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestLogs, digestOf } from './log-digest.ts';

// Times as the services' loggers write them.
const line = (time: number, level: number, msg: string, message?: string) =>
  JSON.stringify({ time: new Date(time).toISOString(), level, msg, ...(message ? { err: { message } } : {}) });

describe('digestOf', () => {
  it('counts warnings and errors since the fault by message and last line of the error, most frequent first', () => {
    const text = [
      line(900, 50, 'before the fault', 'old'),
      line(1000, 30, 'an info line'),
      line(
        1000,
        40,
        'a dependency could not answer',
        'Invalid `prisma.organization.create()` invocation:\n\n  code frame\nConnection terminated unexpectedly',
      ),
      line(
        1001,
        40,
        'a dependency could not answer',
        'Invalid `prisma.project.findMany()` invocation:\nConnection terminated unexpectedly',
      ),
      line(1002, 50, 'outbox relay failed', 'connect ECONNREFUSED'),
      'not json',
      '{"broken',
    ].join('\n');
    expect(digestOf(text, 1000)).toEqual([
      { count: 2, what: 'a dependency could not answer | Connection terminated unexpectedly' },
      { count: 1, what: 'outbox relay failed | connect ECONNREFUSED' },
    ]);
  });
});

describe('digestLogs', () => {
  it('names each service by its log file and leaves out the quiet ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'log-digest-'));
    try {
      await writeFile(join(dir, 'accounts-1796440766989.log'), line(5, 50, 'stuck', 'pool timeout'));
      await writeFile(join(dir, 'usage-1796440768646.log'), line(5, 30, 'fine'));
      expect(await digestLogs(dir, 0)).toEqual(['  accounts:', '         1  stuck | pool timeout']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
