import { createServer } from 'node:http';
import { hostname } from 'node:os';
import pg from 'pg';
import { organizationPurgeProcessors, usageProcessors } from '@mindweave/analytics/processors';
import { createEventBus, observeConsumerLag } from '@mindweave/events';
import { exportsCleanupProcessors } from '@mindweave/exports/processors';
import { createLocalStorage } from '@mindweave/exports/storage';
import { auditCleanupProcessors } from '@mindweave/governance/processors';
import {
  createJobsConnection,
  createProducers,
  createSandboxedWorker,
  createWorker,
  jobsPrefix,
  observeQueues,
  registerSchedules,
  type Processors,
} from '@mindweave/jobs';
import {
  closeServer,
  createHealthRoutes,
  createLogger,
  createRedis,
  createSecretBox,
  createServiceMetrics,
  kafkaSettingsOf,
  listen,
  onShutdown,
  sendJson,
  siblingModule,
} from '@mindweave/service-kit';
import { createWebhooks } from '@mindweave/webhooks/processors';
import { createDirectory } from './directory.ts';
import { createMailer, emailProcessors } from './email.ts';
import { loadWorkersEnv } from './env.ts';
import { createEventHandler } from './events.ts';
import { createQuotaAlerts } from './quota-alerts.ts';
import { reportProcessArgs } from './reports.ts';
import { createUsageStore, migrateRegistry } from '@mindweave/schema-tools/usage';

// The worker process: one BullMQ worker per queue, the job schedulers, and the consumer that
// turns domain events into jobs. As many instances as needed. The jobs on a subgraph's tables are
// that subgraph's (its processors module): this file wires queues to them, with the pool and
// clients they need.
const env = loadWorkersEnv();
const log = createLogger({ name: 'workers', level: env.LOG_LEVEL });
const instance = `${hostname()}-${process.pid}`;

// Counters and markers go through the key-prefixed client; BullMQ gets connections of its own.
const redis = createRedis(env.REDIS_URL, env.REDIS_KEY_PREFIX);
const bus = createEventBus({ redis, kafka: kafkaSettingsOf(env), clientId: `workers-${instance}`, log });
const prefix = jobsPrefix(env.REDIS_KEY_PREFIX);
const producerConnection = createJobsConnection(env.REDIS_URL, 'producer', `workers-producer-${instance}`);
const workerConnection = createJobsConnection(env.REDIS_URL, 'worker', `workers-${instance}`);
const producers = createProducers(producerConnection, { prefix, backoffMs: env.JOBS_BACKOFF_MS });
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 20, idleTimeoutMillis: 30_000 });
db.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL connection failed'));

const mailer = createMailer({ smtpUrl: env.SMTP_URL, from: env.MAIL_FROM });
const directory = createDirectory({
  accountsUrl: env.ACCOUNTS_INTERNAL_URL,
  identityUrl: env.IDENTITY_INTERNAL_URL,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
});
const webhooks = createWebhooks({
  db,
  secretBox: createSecretBox(env.SECRETS_KEY),
  producers,
  log: log.child({ component: 'webhooks' }),
  allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE,
  timeoutMs: env.WEBHOOK_TIMEOUT_MS,
  disableAfter: env.WEBHOOK_DISABLE_AFTER_FAILURES,
});
const quota = createQuotaAlerts({ redis, directory, producers, quotas: env.PLAN_QUOTAS_JSON, log: log.child({ component: 'quota' }) });

const registered = await registerSchedules(producers);
log.info({ schedules: registered }, 'job schedulers registered');

const analytics: Processors<'analytics'> = {
  ...usageProcessors({ db, log }),
  ...organizationPurgeProcessors({ db, accounts: directory, retentionDays: env.DELETED_ORGANIZATION_RETENTION_DAYS, log }),
  ...auditCleanupProcessors({ db, log }),
  ...exportsCleanupProcessors({ db, storage: createLocalStorage(env.EXPORTS_DIR), retentionDays: env.EXPORTS_RETENTION_DAYS, log }),
};
const options = { connection: workerConnection, prefix, name: instance };
const workers = [
  createWorker('email', emailProcessors({ mailer, directory, appUrl: env.PUBLIC_APP_URL, log }), options),
  // Exports run in child processes (reports.ts); the other queues in this one.
  createSandboxedWorker('reports', siblingModule(import.meta.url, './reports'), { ...options, execArgv: reportProcessArgs }),
  createWorker('analytics', analytics, options),
  createWorker('webhooks', webhooks.processors, options),
];
for (const worker of workers) {
  worker.on('failed', (job, error) =>
    log.warn({ queue: worker.name, job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: error }, 'job failed'),
  );
  worker.on('error', (error) => log.error({ queue: worker.name, err: error }, 'worker error'));
}
// Before any job can finish: the durations come from the workers' events.
const metrics = createServiceMetrics();
observeQueues(metrics, producers.queues, workers);

const subscription = await bus.consume({
  group: 'workers',
  consumer: instance,
  domains: ['user', 'usage', 'policy', 'export', 'mcp', 'organization'],
  batchSize: env.EVENTS_BATCH_SIZE,
  handler: createEventHandler({ redis, producers, quota, webhooks }),
});

// The routers' usage reports, stored in the schema registry (packages/schema-tools owns its tables),
// in a group of their own so that a slow registry never holds up emails or webhooks.
await migrateRegistry(env.DATABASE_URL, log);
const operationUsage = await bus.consume({
  group: 'schema-usage',
  consumer: instance,
  domains: ['schema'],
  batchSize: 100,
  handler: createUsageStore({ db, retentionDays: env.OPERATION_USAGE_RETENTION_DAYS, log: log.child({ component: 'operation-usage' }) })
    .handle,
});

// Redis holds every queue and the event log; PostgreSQL only some jobs' data, so while it is down
// those jobs fail and are retried while the others run.
const handleHealth = createHealthRoutes(
  'workers',
  { redis: () => workerConnection.ping() },
  {
    optional: { postgres: () => db.query('SELECT 1') },
    details: async () => ({
      consumers: [...(await subscription.lag()), ...(await operationUsage.lag())],
      queues: Object.fromEntries(
        await Promise.all(
          Object.entries(producers.queues).map(
            async ([name, queue]) =>
              [name, await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed')] as const,
          ),
        ),
      ),
    }),
  },
);
observeConsumerLag(metrics, subscription);
const health = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://workers').pathname;
  if (!(await handleHealth(req, res, path)) && !(await metrics.handle(req, res, path))) sendJson(res, 404, { error: 'not found' });
});
await listen(health, env.WORKERS_HEALTH_PORT, env.WORKERS_HOST);
log.info({ transport: bus.transport, healthPort: env.WORKERS_HEALTH_PORT, queues: workers.map((worker) => worker.name) }, 'workers ready');

onShutdown(log, async () => {
  // No new jobs from events; the jobs in hand finish (worker.close waits for them) before exit.
  await subscription.stop();
  await operationUsage.stop();
  await Promise.all(workers.map((worker) => worker.close()));
  await producers.close();
  await closeServer(health);
  await bus.close();
  await Promise.all([webhooks.close(), mailer.close(), db.end(), redis.quit(), workerConnection.quit(), producerConnection.quit()]);
});
