// Background-work benchmark (README "Performance"): webhook deliveries per second from the worker
// process to a local receiver, and export rows per second with the worker's peak memory for a
// 1,000,000-row CSV export. One run, real PostgreSQL and Redis, the real worker process.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createJobsConnection, createProducers, jobIdOf, jobsPrefix } from '@mindweave/jobs';
import { migrate } from '../../packages/subgraph-kit/index.ts';
import { dropDatabase, ensureDatabase, repoRoot, services, startService } from '../../scripts/stack.ts';

const deliveries = Number(process.env['BENCH_DELIVERIES'] ?? 20_000);
const exportRows = Number(process.env['BENCH_EXPORT_ROWS'] ?? 1_000_000);
const bars = { deliveriesPerSecond: 500, peakRssMb: 200 };

const runId = randomBytes(4).toString('hex');
const databaseUrl = `postgresql://postgres@127.0.0.1:5432/mindweave_bench_jobs_${runId}`;
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const keyPrefix = `mwbench:${runId}:`;
const workersService = services.find((service) => service.name === 'workers')!;
// The worker process is what is measured here: at the stack's background priority it would yield
// to this process' own receiver.
process.env['MW_BACKGROUND_NICE'] ??= '0';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB. */
async function memoryOf(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peakMb: kb('VmHWM') / 1024, currentMb: kb('VmRSS') / 1024 };
}

/** The node child processes of `pid`: BullMQ's sandboxed processors (tsx's esbuild service is not node). */
async function nodeChildrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const match = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
    if (match && Number(match[2]) === pid && match[1] === 'node') found.push(Number(entry));
  }
  return found;
}

async function startWorkers(exportsDir: string) {
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    WORKERS_HEALTH_PORT: String(port),
    WEBHOOKS_ALLOW_PRIVATE: 'true',
    EXPORTS_DIR: exportsDir,
    // Nothing here sends email or asks accounts; these only need to be valid.
    SMTP_URL: 'smtp://127.0.0.1:9',
  };
  const started = await startService(workersService, env, { port, logFile: join(exportsDir, `workers-${port}.log`) });
  return { ...started, pid: started.child.pid! };
}

async function main() {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse())
      await step().catch((error: unknown) => process.stderr.write(`clean-up failed: ${String(error)}\n`));
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    await ensureDatabase(databaseUrl);
    cleanups.push(() => dropDatabase(databaseUrl));
    for (const schema of ['analytics', 'exports', 'webhooks']) {
      await migrate({ databaseUrl, schema, directory: fileURLToPath(new URL(`../../subgraphs/${schema}/migrations`, import.meta.url)) });
    }
    const exportsDir = await mkdtemp(join(tmpdir(), 'mindweave-bench-jobs-'));
    cleanups.push(() => rm(exportsDir, { recursive: true, force: true }));
    cleanups.push(async () => {
      const raw = new Redis(redisUrl);
      const keys = await raw.keys(`${keyPrefix}*`);
      for (let i = 0; i < keys.length; i += 1_000) await raw.del(...keys.slice(i, i + 1_000));
      raw.disconnect();
    });
    const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    cleanups.push(() => db.end());
    const connection = createJobsConnection(redisUrl, 'producer', 'bench-jobs');
    const producers = createProducers(connection, { prefix: jobsPrefix(keyPrefix) });
    cleanups.push(async () => {
      await producers.close();
      connection.disconnect();
    });

    // 1. Webhook deliveries: every job queued first, then the worker process drains them.
    let received = 0;
    let firstAt = 0;
    let lastAt = 0;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received += 1;
        lastAt = performance.now();
        if (received === 1) firstAt = lastAt;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise((done) => receiver.close(done)));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
    const organizationId = randomUUID();
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO webhooks.webhook_endpoints (id, "organizationId", url, "eventTypes", secret, "createdById") VALUES (gen_random_uuid(), $1, $2, '{usage.recorded}', 'whsec_bench', $1) RETURNING id`,
      [organizationId, receiverUrl],
    );
    const endpointId = rows[0]!.id;
    const body = JSON.stringify({
      id: 'evt',
      type: 'usage.recorded',
      organizationId,
      data: { model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50 },
    });
    for (let i = 0; i < deliveries; i += 1_000) {
      await producers.addBulk(
        'webhooks',
        Array.from({ length: Math.min(1_000, deliveries - i) }, () => {
          const eventId = randomUUID();
          return {
            name: 'deliver' as const,
            data: { endpointId, eventId, eventType: 'usage.recorded', body: body.replace('"evt"', `"${eventId}"`) },
            options: { jobId: jobIdOf('webhook', endpointId, eventId) },
          };
        }),
      );
    }
    process.stdout.write(`queued ${deliveries} webhook deliveries; starting the worker process\n`);
    const webhookWorkers = await startWorkers(exportsDir);
    const deadline = Date.now() + 300_000;
    while (received < deliveries && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
    // Completed jobs are kept 1,000 at most: drained is when nothing is left to run.
    const pending = async () => {
      const counts = await producers.queues.webhooks.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    };
    while ((await pending()) > 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    const drainedAt = performance.now();
    const logged = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM webhooks.webhook_deliveries')).rows[0]?.n);
    const deliveriesPerSecond = ((received - 1) / (lastAt - firstAt)) * 1_000;
    const completedPerSecond = (deliveries / (drainedAt - firstAt)) * 1_000;
    await webhookWorkers.stop();

    // 2. An export of 1,000,000 rows, by a fresh worker process so that its peak memory is the export's.
    process.stdout.write(`seeding ${exportRows.toLocaleString('en-US')} usage events\n`);
    const exportOrg = randomUUID();
    await db.query(
      `INSERT INTO analytics.usage_events (id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
       SELECT gen_random_uuid(), $1::uuid, $2::uuid, $3::uuid, CASE WHEN g % 3 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END, g % 5000, g % 700, g % 300, (g % 100) / 1000.0, false,
              '2026-01-01'::timestamp + g * interval '100 milliseconds', CASE WHEN g % 10 = 0 THEN jsonb_build_object('route', 'chat', 'n', g) END
       FROM generate_series(1, $4::int) g`,
      [exportOrg, randomUUID(), randomUUID(), exportRows],
    );
    await db.query('ANALYZE analytics.usage_events');
    const exportId = randomUUID();
    await db.query(
      `INSERT INTO exports.export_jobs (id, "organizationId", "requestedBy", type, format, "from", "to") VALUES ($1, $2, $3, 'USAGE', 'CSV', '2026-01-01', '2026-02-01')`,
      [exportId, exportOrg, randomUUID()],
    );
    const exportWorkers = await startWorkers(exportsDir);
    const baseline = await memoryOf(exportWorkers.pid);
    await producers.add('reports', 'export', { exportId }, { jobId: jobIdOf('export', exportId) });
    let job: { status: string; rowsWritten: number; bytes: string; seconds: number | null } | undefined;
    // Exports run in the worker's sandboxed child process: its peak is read while it lives.
    let childPeakMb = 0;
    while (Date.now() < deadline + 600_000) {
      for (const child of await nodeChildrenOf(exportWorkers.pid))
        childPeakMb = Math.max(childPeakMb, (await memoryOf(child).catch(() => ({ peakMb: 0 }))).peakMb);
      job = (
        await db.query<{ status: string; rowsWritten: number; bytes: string; seconds: number | null }>(
          `SELECT status, "rowsWritten", bytes, extract(epoch FROM "finishedAt" - "startedAt")::float8 AS seconds FROM exports.export_jobs WHERE id = $1`,
          [exportId],
        )
      ).rows[0];
      if (job?.status === 'SUCCEEDED' || job?.status === 'FAILED') break;
      await new Promise((done) => setTimeout(done, 100));
    }
    const memory = await memoryOf(exportWorkers.pid);
    await exportWorkers.stop();
    if (job?.status !== 'SUCCEEDED' || !job.seconds) throw new Error(`the export did not succeed: ${JSON.stringify(job)}`);
    const rowsPerSecond = job.rowsWritten / job.seconds;
    const exportPeakMb = Math.max(childPeakMb, memory.peakMb);

    const pass = (ok: boolean) => (ok ? 'pass' : 'FAIL');
    process.stdout.write(`
Background work (bench/jobs/run.ts), one run on this machine

  webhook deliveries          ${deliveries.toLocaleString('en-US')} to a local receiver, ${logged.toLocaleString('en-US')} attempts logged
    delivered per second      ${deliveriesPerSecond.toFixed(0)}   (bar >= ${bars.deliveriesPerSecond}: ${pass(deliveriesPerSecond >= bars.deliveriesPerSecond)})
    completed per second      ${completedPerSecond.toFixed(0)}   (delivered, logged and acknowledged)

  CSV export                  ${job.rowsWritten.toLocaleString('en-US')} rows, ${(Number(job.bytes) / 1_048_576).toFixed(1)} MB in ${job.seconds.toFixed(1)} s
    rows per second           ${rowsPerSecond.toFixed(0)}
    peak RSS, export process  ${childPeakMb.toFixed(0)} MB   (the reports queue's sandboxed processor)
    peak RSS, worker process  ${memory.peakMb.toFixed(0)} MB   (${baseline.currentMb.toFixed(0)} MB when it was ready)
    worker peak RSS           ${exportPeakMb.toFixed(0)} MB   (bar < ${bars.peakRssMb} MB: ${pass(exportPeakMb < bars.peakRssMb)}; the larger of the two)
`);
    if (deliveriesPerSecond < bars.deliveriesPerSecond || exportPeakMb >= bars.peakRssMb) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

process.chdir(repoRoot);
await main();
process.exit();
