// The fault suite (README: "Faults"): `pnpm test:faults`. It runs the whole stack against a Redis
// (append-only file on) and a PostgreSQL cluster of its own, and for each fault sends usage with
// unique idempotency keys through two routers while the fault strikes, then checks by event id
// that every accepted event was persisted exactly once and counted once (verify.ts), that the live
// feed still delivers, and how long recovery took. It prints a table and exits 1 on any loss,
// double count, batch given up or silent feed, with the services' warnings and errors since the
// fault that failed. FAULTS=<id,id> runs some of them; ROUNDS=<n> runs them n times over.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { createMindWeaveClient, ExportJobDocument, RecordUsageBatchDocument, RequestExportDocument } from '../packages/sdk/src/index.ts';
import { freePort, freePortRange } from '../scripts/ports.ts';
import { startSmtpSink } from '../scripts/smtp-sink.ts';
import { ensureDatabase, services, stackEnv, startService } from '../scripts/stack.ts';
import { eventIdOf } from '../subgraphs/usage/idempotency.ts';
import { childrenOf, isAlive, kill, sleep, startPrivatePostgres, startPrivateRedis, until } from '../scripts/private-services.ts';
import { startSending, watchUsage } from './load.ts';
import { verify, type Outcome } from './verify.ts';
import { digestLogs } from './log-digest.ts';

const runId = randomBytes(4).toString('hex');
const only = new Set(
  (process.env['FAULTS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const rounds = Number(process.env['ROUNDS'] ?? 1);
// A mistyped ROUNDS must not select no fault at all, which would pass.
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ROUNDS must be a whole number from 1, not "${process.env['ROUNDS']}"`);
const workDir = await mkdtemp(join(tmpdir(), `mindweave-faults-${runId}-`));
const logDir = join(workDir, 'logs');
await mkdir(logDir, { recursive: true });
process.stdout.write(
  `fault suite ${runId}: its own Redis and PostgreSQL; services' logs in ${logDir}${process.env['KEEP_TEST_LOGS'] ? '' : ' (KEEP_TEST_LOGS=1 keeps them)'}\n`,
);

/** Run last-in first-out at the end, whatever happened. */
/** A fault made of steps taken one after another, with nothing to report beyond the counts. */
const inTurn =
  (...steps: (() => Promise<unknown>)[]) =>
  async (): Promise<undefined> => {
    for (const step of steps) await step();
  };
const cleanup: (() => Promise<unknown>)[] = [async () => process.env['KEEP_TEST_LOGS'] || rm(workDir, { recursive: true, force: true })];
let exitCode = 0;
/** When the fault under way began (its tenant's creation): the services' logs are summed up from there if it fails. */
let faultBeganAt = Date.now();

try {
  const redisServer = await startPrivateRedis(join(workDir, 'redis'), await freePort());
  cleanup.push(() => redisServer.stop());
  const postgres = await startPrivatePostgres(join(workDir, 'postgres'), await freePort());
  cleanup.push(() => postgres.stop());
  const databaseUrl = postgres.databaseUrl('mindweave');
  await ensureDatabase(databaseUrl);
  const mail = await startSmtpSink({ smtpPort: 0, uiPort: 0, dir: join(workDir, 'mail') });
  cleanup.push(() => mail.close());

  // Twenty ports from a base, away from the development (4000) and test (20000-39999) stacks; a second router beside them.
  const basePort = await freePortRange(20, 41_000, 59_000);
  const routerBPort = await freePort();
  const keyPrefix = `mwfaults:${runId}:`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...stackEnv({
      basePort,
      databaseUrl,
      redisUrl: redisServer.url,
      env: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        REDIS_KEY_PREFIX: keyPrefix,
        SMTP_URL: mail.smtpUrl,
        EXPORTS_DIR: join(workDir, 'exports'),
        RATE_LIMIT_PER_MINUTE: '1000000',
        API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
        COST_BUDGET_PER_MINUTE: '1000000000',
        JOBS_BACKOFF_MS: '200',
      },
    }),
  };

  // Every process of the stack, by name ('router-b' is the second router), so that faults can kill and restart them.
  const running = new Map<string, Awaited<ReturnType<typeof startService>>>();
  cleanup.push(() => Promise.all([...running.values()].map((service) => service.stop())));
  async function start(name: string) {
    const service = services.find((s) => s.name === (name === 'router-b' ? 'router' : name))!;
    const port = name === 'router-b' ? routerBPort : basePort + service.offset;
    running.set(
      name,
      await startService(
        service,
        { ...env, PORT: name === 'router-b' ? String(routerBPort) : env['PORT'] },
        { port, logFile: join(logDir, `${name}-${Date.now()}.log`) },
      ),
    );
  }
  const sigkill = async (name: string) => kill(running.get(name)!.child);
  for (const service of services) await start(service.name);
  await start('router-b');
  const routerA = `http://127.0.0.1:${basePort}/graphql`;
  const routerB = `http://127.0.0.1:${routerBPort}/graphql`;

  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined);
  cleanup.push(() => db.end());
  const redis = new Redis(redisServer.url, { keyPrefix, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  cleanup.push(async () => redis.disconnect());

  /**
   * The suite's own requests (tenants between faults) behave as the SDK does: an UNAVAILABLE answer
   * (a pool's connection that the last fault broke, say) is retried after its Retry-After, a few times.
   */
  async function graphql<T>(query: string, variables: Record<string, unknown>, token?: string, attempt = 1): Promise<T> {
    const response = await fetch(routerA, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: { extensions?: { code?: string; retryAfter?: number } }[] };
    const unavailable = body.errors?.find((error) => error.extensions?.code === 'UNAVAILABLE');
    if (unavailable && attempt < 5) {
      process.stdout.write(
        `  (the suite's own request was answered UNAVAILABLE; retrying after ${unavailable.extensions?.retryAfter ?? 1} s)\n`,
      );
      await sleep((unavailable.extensions?.retryAfter ?? 1) * 1_000);
      return graphql(query, variables, token, attempt + 1);
    }
    if (body.errors?.length || !body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }

  let tenants = 0;
  /** A user with an organization, a project and an API key that records, reads and exports usage. */
  async function tenant(name: string) {
    // Unique in every round (ROUNDS), and in the export fault's own.
    const label = `${name}-${++tenants}`;
    const { register } = await graphql<{ register: { accessToken: string } }>(
      'mutation ($i: RegisterInput!) { register(input: $i) { accessToken } }',
      {
        i: { email: `${label}-${runId}@faults.example`, password: 'fault suite password', name: label },
      },
    );
    const token = register.accessToken;
    const { createOrganization } = await graphql<{ createOrganization: { id: string } }>(
      'mutation ($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
      { i: { name: label, slug: `${label}-${runId}` } },
      token,
    );
    const { createProject } = await graphql<{ createProject: { id: string } }>(
      'mutation ($i: CreateProjectInput!) { createProject(input: $i) { id } }',
      { i: { organizationId: createOrganization.id, name: label } },
      token,
    );
    const { createApiKey } = await graphql<{ createApiKey: { key: string; apiKey: { id: string } } }>(
      'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id } } }',
      { i: { projectId: createProject.id, name: label, scopes: ['usage:write', 'usage:read', 'exports:write'] } },
      token,
    );
    return {
      organizationId: createOrganization.id,
      projectId: createProject.id,
      apiKey: createApiKey.key,
      apiKeyId: createApiKey.apiKey.id,
    };
  }

  /** The worker SIGKILLed in the middle of an export: its export process must not outlive it, and the export must still finish with every row. */
  async function killWorkerDuringExport(): Promise<{ problems: string[]; note: string }> {
    const owner = await tenant('export');
    const rows = 600_000;
    // Rows written straight into the analytics table: an export that takes a few seconds.
    await db.query(
      `INSERT INTO analytics.usage_events (id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt")
       SELECT gen_random_uuid(), $1, $2, $3, 'gpt-4o', n % 1000, 20, 15, 0.001, false, now() - interval '1 day' + n * interval '1 millisecond' FROM generate_series(1, $4::int) AS n`,
      [owner.organizationId, owner.projectId, owner.apiKeyId, rows],
    );
    const client = createMindWeaveClient({ url: routerA, auth: { apiKey: owner.apiKey } });
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const { requestExport } = await client.request(RequestExportDocument, {
      input: { organizationId: owner.organizationId, type: 'USAGE', format: 'CSV', from, to: new Date().toISOString() },
    });
    const job = async () => (await client.request(ExportJobDocument, { id: requestExport.id })).exportJob;
    await until('the export did not start', async () => (await job())?.status === 'RUNNING', 60_000);
    const children = await childrenOf(running.get('workers')!.child.pid!);
    await sigkill('workers');
    const orphans = await until('', async () => children.every((pid) => !isAlive(pid)), 3_000).then(
      () => [],
      () => children.filter(isAlive),
    );
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    await start('workers');
    await until(
      'the export did not finish once a worker was back',
      async () => ['SUCCEEDED', 'FAILED'].includes((await job())?.status ?? ''),
      180_000,
    );
    const finished = (await job())!;
    let lines = 0;
    if (finished.downloadUrl) {
      const response = await fetch(finished.downloadUrl);
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) for (const byte of chunk) if (byte === 10) lines++;
    }
    return {
      problems: [
        ...(children.length === 0 ? ['the worker had no export process to kill: the export ran too fast'] : []),
        ...(orphans.length ? [`${orphans.length} export process(es) outlived the worker`] : []),
        ...(finished.status !== 'SUCCEEDED' ? [`the export ${finished.status}: ${finished.error}`] : []),
        ...(lines !== rows + 1 ? [`the export holds ${lines - 1} rows, not ${rows}`] : []),
      ],
      note: `the worker died with ${children.length} export process(es), which ended with it; the export finished with ${lines - 1} of ${rows} rows`,
    };
  }

  /**
   * A proxy in front of a router that loses every third answer: the router has answered (the events
   * are recorded) but the client sees its connection cut, so it sends the batch again.
   */
  async function lossyProxy(target: string) {
    let requests = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers)
            .filter(([name]) => !['host', 'connection', 'content-length'].includes(name))
            .map(([name, value]) => [name, String(value)]),
        );
        const answer = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers, body: Buffer.concat(chunks) }).catch(
          () => null,
        );
        const text = answer ? await answer.text() : '';
        if (!answer || ++requests % 3 === 0) req.socket.destroy();
        else res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${port}/graphql`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const lossy = await lossyProxy(`http://127.0.0.1:${basePort}`);
  cleanup.push(() => lossy.close());

  /**
   * Each strikes, then lifts the fault; what it may return are problems beyond the counts, and a
   * note. `routerUrls` are where the load goes (the client moves on to the next after a cut), and
   * `twins` sends each batch twice at once.
   */
  const catalogue: {
    id: string;
    name: string;
    routerUrls?: string[];
    twins?: boolean;
    expectDuplicates?: boolean;
    strike: () => Promise<{ problems: string[]; note: string } | undefined>;
  }[] = [
    {
      id: 'consumer-kill',
      name: 'consumer SIGKILL',
      strike: inTurn(
        () => sigkill('analytics-consumer'),
        () => sleep(2_000),
        () => start('analytics-consumer'),
      ),
    },
    {
      id: 'redis-restart',
      name: 'Redis restart',
      strike: inTurn(
        () => redisServer.stop(),
        () => sleep(5_000),
        () => redisServer.start(),
      ),
    },
    {
      id: 'redis-down',
      name: 'Redis down 15 s',
      strike: inTurn(
        () => redisServer.stop(),
        () => sleep(15_000),
        () => redisServer.start(),
      ),
    },
    {
      id: 'postgres-restart',
      name: 'PostgreSQL restart',
      strike: inTurn(
        () => postgres.stop(),
        () => postgres.start(),
      ),
    },
    {
      id: 'postgres-down',
      name: 'PostgreSQL down 15 s',
      strike: inTurn(
        () => postgres.stop(),
        () => sleep(15_000),
        () => postgres.start(),
      ),
    },
    {
      id: 'subgraph-kill',
      name: 'usage subgraph SIGKILL',
      strike: inTurn(
        () => sigkill('usage'),
        () => sleep(2_000),
        () => start('usage'),
      ),
    },
    { id: 'worker-kill', name: 'worker SIGKILL in an export', strike: killWorkerDuringExport },
    {
      id: 'router-kill',
      name: 'router SIGKILL, another serving',
      strike: inTurn(
        () => sigkill('router'),
        () => sleep(3_000),
        () => start('router'),
      ),
    },
    // Not outages, but what idempotency is for: answers lost after the events were recorded, and one batch sent twice at once.
    {
      id: 'answer-lost',
      name: 'answers lost after recording',
      routerUrls: [lossy.url, routerB],
      expectDuplicates: true,
      strike: async () => {
        await sleep(8_000);
        return { problems: [], note: 'every third answer cut by a proxy after the router had answered' };
      },
    },
    {
      id: 'same-keys',
      name: 'the same batch twice at once',
      twins: true,
      expectDuplicates: true,
      strike: async () => {
        await sleep(8_000);
        return { problems: [], note: 'each batch sent as two concurrent requests with the same keys' };
      },
    },
  ];
  const selected = catalogue.filter((fault) => only.size === 0 || only.has(fault.id));
  const faults = Array.from({ length: rounds }, () => selected).flat();

  /**
   * The processes that died on their own (not one a fault killed, which it started again): each is
   * a failure, and is started again for the faults after.
   */
  async function exitedByThemselves(): Promise<string[]> {
    const exited: string[] = [];
    for (const [name, service] of running) {
      const { exitCode: code, signalCode: signal } = service.child;
      if (code === null && signal === null) continue;
      exited.push(`${name} exited by itself (${signal ?? `exit code ${code}`}) and was started again`);
      await start(name);
    }
    return exited;
  }

  const rows: (Outcome & { fault: string; waited: string; recovered: string; live: boolean; problems: string[]; note: string })[] = [];
  for (const [index, fault] of faults.entries()) {
    process.stdout.write(`\n${fault.name}...\n`);
    faultBeganAt = Date.now();
    const who = await tenant(fault.id);
    // Its own idempotency keys in every round.
    const tag = `${fault.id}-${index}`;
    // The live subscriber is on the router that is never killed.
    const watcher = watchUsage(routerB, who.organizationId, who.apiKey);
    await sleep(1_000);
    const load = startSending({
      routerUrls: fault.routerUrls ?? [routerA, routerB],
      apiKey: who.apiKey,
      label: `${tag}-${runId}`,
      senders: 4,
      batchSize: 50,
      pauseMs: 100,
      twins: fault.twins,
    });
    await sleep(3_000);
    const struckAt = Date.now();
    const { problems, note } = (await fault.strike()) ?? { problems: [], note: '' };
    const liftedAt = Date.now();
    await sleep(4_000);
    await load.stop();

    // After recovery, what is recorded reaches the live subscriber again.
    const probeKeys = Array.from({ length: 10 }, (_, i) => `${tag}-${runId}-probe-${i}`);
    const probe = createMindWeaveClient({
      url: routerA,
      auth: { apiKey: who.apiKey },
      webSocketImpl: WebSocket,
      retry: { attempts: 30, baseDelayMs: 200, maxDelayMs: 5_000 },
    });
    await probe.request(RecordUsageBatchDocument, {
      inputs: probeKeys.map((idempotencyKey) => ({ idempotencyKey, model: 'gpt-4o', inputTokens: 1, outputTokens: 1, latencyMs: 1 })),
    });
    const live = await until('', async () => probeKeys.every((key) => watcher.seen.has(eventIdOf(who.apiKeyId, key))), 20_000).then(
      () => true,
      () => false,
    );
    await watcher.close();

    problems.push(...(await exitedByThemselves()));
    if (fault.expectDuplicates && !load.batches.some((batch) => batch.receipt?.duplicates))
      problems.push('no key was answered as a duplicate: the path this checks was not exercised');
    const outcome = await verify({
      db,
      redis,
      organizationId: who.organizationId,
      apiKeyId: who.apiKeyId,
      batches: load.batches,
      probeKeys,
      patienceMs: 120_000,
    });
    // How long clients went without an answer (the longest gap between answers from the strike on), and how soon after the fault the first came.
    const answers = load.batches
      .filter((batch) => batch.receipt)
      .map((batch) => batch.doneAt)
      .sort((a, b) => a - b);
    const firstAnswer = answers.find((at) => at >= liftedAt);
    const gaps = answers.filter((at) => at >= struckAt).map((at, i, later) => at - (i === 0 ? struckAt : later[i - 1]!));
    const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
    const row = {
      ...outcome,
      fault: fault.name,
      waited: seconds(Math.max(0, ...gaps)),
      recovered: seconds(firstAnswer === undefined ? undefined : firstAnswer - liftedAt),
      live,
      problems,
      note,
    };
    rows.push(row);
    process.stdout.write(
      `  accepted ${row.accepted}, persisted ${row.persisted}, duplicates ${row.duplicates}, retried batches ${row.retried}, gave up ${row.gaveUp}, lost ${row.lost}, miscounted ${row.miscounted}, longest wait for an answer ${row.waited} s, first answer ${row.recovered} s after the fault lifted, live feed ${live ? 'delivering' : 'NOT delivering'}${[
        note,
        row.detail,
        ...problems,
      ]
        .filter(Boolean)
        .map((p) => `; ${p}`)
        .join('')}\n`,
    );
    if (row.lost || row.miscounted || row.gaveUp || !live || problems.length) {
      exitCode = 1;
      await printLogDigest();
    }
  }

  // One that died while the last fault was verified.
  for (const problem of await exitedByThemselves()) {
    process.stdout.write(`after the last fault: ${problem}\n`);
    exitCode = 1;
  }

  const header = [
    'fault',
    'accepted',
    'persisted',
    'duplicates',
    'retried batches',
    'gave up',
    'lost',
    'miscounted',
    'longest wait (s)',
    'recovered (s)',
    'live feed',
  ];
  const table = [
    header,
    ...rows.map((r) =>
      [
        r.fault,
        r.accepted,
        r.persisted,
        r.duplicates,
        r.retried,
        r.gaveUp,
        r.lost,
        r.miscounted,
        r.waited,
        r.recovered,
        r.live ? 'delivering' : 'STOPPED',
      ].map(String),
    ),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
  process.stdout.write(
    `\n${table.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n')}\n`,
  );
  for (const row of rows)
    for (const line of [row.note, row.detail, ...row.problems].filter(Boolean)) process.stdout.write(`${row.fault}: ${line}\n`);
  process.stdout.write(
    exitCode
      ? '\nFAILED: an event was lost or miscounted, a batch was given up, the live feed stopped, or an export went wrong.\n'
      : '\nEvery accepted event was persisted and counted exactly once through every fault.\n',
  );
} catch (error) {
  process.stderr.write(`fault suite failed: ${(error as Error).stack ?? String(error)}\n`);
  exitCode = 1;
  await printLogDigest();
} finally {
  for (const step of cleanup.reverse()) await step().catch((error: unknown) => process.stderr.write(`clean-up failed: ${String(error)}\n`));
}
process.exit(exitCode);

async function printLogDigest() {
  const lines = await digestLogs(logDir, faultBeganAt).catch((error: unknown) => [`  (could not read the logs: ${String(error)})`]);
  process.stdout.write(`\nthe services' warnings and errors since this fault began:\n${lines.join('\n') || '  none'}\n`);
}
