import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';

// Private PostgreSQL and Redis instances, on free ports beside the machine's: the fault suite stops
// and restarts them, which it must never do to the shared ones, and a second whole stack (the
// packaged images' test) would take more connections than the shared PostgreSQL allows.

const run = promisify(execFile);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

const redisAnswers = async (port: number) => {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
};

/** Redis with its append-only file on, as production keeps its event log: a restart loses nothing it acknowledged. */
export async function startPrivateRedis(dir: string, port: number) {
  await mkdir(dir, { recursive: true });
  const start = async () => {
    await run('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--save',
      '',
      '--dir',
      dir,
      '--daemonize',
      'yes',
      '--pidfile',
      join(dir, 'redis.pid'),
      '--logfile',
      join(dir, 'redis.log'),
    ]);
    await until('Redis did not answer', () => redisAnswers(port));
  };
  const stop = async () => {
    // SHUTDOWN flushes the append-only file first.
    await run('redis-cli', ['-p', String(port), 'shutdown']).catch(() => undefined);
    await until('Redis did not stop', async () => !(await redisAnswers(port)));
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop };
}

function postgresBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort().reverse();
  for (const version of versions) {
    const path = join('/usr/lib/postgresql', version, 'bin', name);
    if (existsSync(path)) return path;
  }
  throw new Error(`no PostgreSQL ${name} under /usr/lib/postgresql`);
}

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` OS user, which owns the data. */
async function asPostgres(command: string, args: string[]) {
  if (process.getuid?.() !== 0) return run(command, args);
  const quoted = [command, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('su', ['postgres', '-c', quoted]);
}

const postgresAnswers = async (url: string) => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
};

/** A PostgreSQL cluster of its own (initdb from the machine's binaries), trust authentication on 127.0.0.1. */
export async function startPrivatePostgres(dir: string, port: number) {
  await mkdir(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    const postgres = await run('id', ['-u', 'postgres']).then(({ stdout }) => Number(stdout.trim()));
    const group = await run('id', ['-g', 'postgres']).then(({ stdout }) => Number(stdout.trim()));
    chownSync(dir, postgres, group);
    // Its parent (a private temporary folder, say) must let the postgres user through; a shared
    // one (sticky, like /tmp) already does and is left as it is.
    const parent = dirname(dir);
    if (!(statSync(parent).mode & 0o1000)) chmodSync(parent, statSync(parent).mode | 0o755);
  }
  const data = join(dir, 'data');
  await asPostgres(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on`;
  const pgCtl = (...args: string[]) =>
    asPostgres(postgresBin('pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-o', options, ...args]);
  const start = async () => {
    await pgCtl('-w', 'start');
    await until('PostgreSQL did not answer', () => postgresAnswers(url));
  };
  // Fast shutdown: open connections are ended, as when an operator or a failover stops it.
  const stop = async () => {
    await pgCtl('-w', '-m', 'fast', 'stop');
  };
  await start();
  return { url, port, start, stop, databaseUrl: (name: string) => `postgresql://postgres@127.0.0.1:${port}/${name}` };
}

/** Sends SIGKILL and waits for the exit. */
export function kill(child: {
  pid?: number;
  exitCode: number | null;
  signalCode: NodeJS.Signals | null;
  once(event: 'exit', listener: () => void): unknown;
  kill(signal: NodeJS.Signals): boolean;
}) {
  return new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

/** Processes whose parent is `pid`. */
export async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((n) => n > 0);
}

export function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
