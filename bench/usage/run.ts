// Usage pipeline benchmark (README "Performance"): events accepted per second through the router
// in 1,000-event batches, events persisted per second by the analytics consumer, and live delivery
// latency to 1,000 concurrent subscribers at a steady event rate, with the count of events lost.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { createEvent, createEventBus } from '@mindweave/events';
import { createLogger } from '@mindweave/service-kit';
import { startSmtpSink } from '../../scripts/smtp-sink.ts';
import { dropDatabase, ensureDatabase, services, startStack } from '../../scripts/stack.ts';
import { benchStackEnv, deleteRedisKeys, freePorts } from '../lib/harness.ts';
import { findByCommand, findChildren, startCpuMeter } from '../lib/procs.ts';

const seconds = Number(process.env['BENCH_DURATION'] ?? 10);
const ingestClients = Number(process.env['BENCH_CLIENTS'] ?? 4);
const subscriberCount = Number(process.env['BENCH_SUBSCRIBERS'] ?? 1_000);
const eventsPerSecond = Number(process.env['BENCH_EVENT_RATE'] ?? 200);
/** 0: every subscriber watches with the ingesting API key; N: the connections are spread over N members' access tokens. */
const subscriberUsers = Number(process.env['BENCH_SUBSCRIBER_USERS'] ?? 0);

const runId = randomBytes(4).toString('hex');
const databaseUrl = `postgresql://postgres@127.0.0.1:5432/mindweave_bench_${runId}`;
const basePort = 30_000 + Math.floor(Math.random() * 500) * 20;

async function graphql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function seed(url: string) {
  const { register } = await graphql<{ register: { accessToken: string } }>(
    url,
    'mutation ($i: RegisterInput!) { register(input: $i) { accessToken } }',
    {
      i: { email: `bench-${runId}@example.com`, password: 'bench password 123', name: 'Bench' },
    },
  );
  const token = register.accessToken;
  const { createOrganization: org } = await graphql<{ createOrganization: { id: string } }>(
    url,
    'mutation ($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
    { i: { name: 'Bench', slug: `bench-${runId}` } },
    token,
  );
  const { createProject: project } = await graphql<{ createProject: { id: string } }>(
    url,
    'mutation ($i: CreateProjectInput!) { createProject(input: $i) { id } }',
    { i: { organizationId: org.id, name: 'Bench' } },
    token,
  );
  const { createApiKey } = await graphql<{ createApiKey: { key: string } }>(
    url,
    'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }',
    { i: { projectId: project.id, name: 'bench', scopes: ['usage:write', 'usage:read'] } },
    token,
  );
  return { organizationId: org.id, apiKey: createApiKey.key, token };
}

/** `count` members of the organization, signed in: their access tokens. */
async function members(url: string, organizationId: string, ownerToken: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const { register } = await graphql<{ register: { accessToken: string; user: { id: string } } }>(
        url,
        'mutation ($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }',
        {
          i: { email: `bench-${runId}-member-${i}@example.com`, password: 'bench password 123', name: `Member ${i}` },
        },
      );
      await graphql(
        url,
        'mutation ($i: AddMemberInput!) { addMember(input: $i) { role } }',
        { i: { organizationId, userId: register.user.id, role: 'MEMBER' } },
        ownerToken,
      );
      return register.accessToken;
    }),
  );
}

const batchMutation = 'mutation ($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { accepted } }';
const batchOf = (n: number, occurredAt?: string) =>
  Array.from({ length: n }, (_, i) => ({
    model: i % 2 ? 'gpt-4o-mini' : 'claude-3-5-haiku',
    inputTokens: 100 + i,
    outputTokens: 50,
    latencyMs: 20,
    ...(occurredAt ? { occurredAt } : {}),
  }));

async function countPersisted(organizationId: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM analytics.usage_events WHERE "organizationId" = $1', [
      organizationId,
    ]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

async function ingest(url: string, apiKey: string) {
  const body = JSON.stringify({ query: batchMutation, variables: { inputs: batchOf(1_000) } });
  let accepted = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ingestClients }, async () => {
      while (performance.now() < deadline) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
          body,
        });
        const result = (await response.json()) as { data?: { recordUsageBatch: { accepted: number } }; errors?: unknown };
        if (!result.data) throw new Error(`ingest failed: ${JSON.stringify(result.errors)}`);
        accepted += result.data.recordUsageBatch.accepted;
      }
    }),
  );
  return { accepted, seconds: (performance.now() - started) / 1000 };
}

/** The ceiling the router is measured against: 1,000-event batches appended straight to the log. */
async function rawLogRate(organizationId: string) {
  const redis = new Redis('redis://127.0.0.1:6379', { keyPrefix: `mwbench:${runId}:raw:` });
  const bus = createEventBus({ redis, clientId: 'bench', log: createLogger({ name: 'bench', level: 'warn' }) });
  const data = {
    organizationId,
    projectId: organizationId,
    apiKeyId: organizationId,
    model: 'gpt-4o-mini',
    inputTokens: 100,
    outputTokens: 50,
    latencyMs: 20,
    costUsd: 0.0001,
    unpricedModel: false,
    occurredAt: new Date().toISOString(),
    metadata: null,
  };
  let published = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ingestClients }, async () => {
      while (performance.now() < deadline) {
        await bus.publish(Array.from({ length: 1_000 }, () => createEvent('usage.recorded', organizationId, data)));
        published += 1_000;
      }
    }),
  );
  const rate = published / ((performance.now() - started) / 1000);
  await bus.close();
  redis.disconnect();
  await deleteRedisKeys('redis://127.0.0.1:6379', `mwbench:${runId}:raw:`);
  return rate;
}

async function subscribeAll(url: string, credentials: string[], organizationId: string) {
  const latencies: number[] = [];
  const received = new Map<number, number>();
  const clients: Client[] = [];
  const wsUrl = url.replace(/^http/, 'ws');
  // A few WebSocket connections carry many subscriptions each, as dashboards' tabs do.
  const connections = Math.min(100, subscriberCount);
  for (let c = 0; c < connections; c++)
    clients.push(
      createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: credentials[c % credentials.length]! },
        retryAttempts: 0,
      }),
    );
  for (let s = 0; s < subscriberCount; s++) {
    received.set(s, 0);
    clients[s % connections]!.subscribe(
      {
        query: 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id occurredAt organization { name } } }',
        variables: { org: organizationId },
      },
      {
        next: (result) => {
          const event = (result.data as { usageUpdated: { occurredAt: string } }).usageUpdated;
          latencies.push(Date.now() - Date.parse(event.occurredAt));
          received.set(s, (received.get(s) ?? 0) + 1);
        },
        error: (error) => console.error('subscription failed', error),
        complete: () => undefined,
      },
    );
  }
  return { latencies, received, dispose: () => Promise.all(clients.map((c) => c.dispose())) };
}

/** `usage 66, router 32, ...`: the processes using at least 1% of a core, busiest first. */
const cpuLine = (usage: Record<string, number>) =>
  Object.entries(usage)
    .filter(([, pct]) => pct >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, pct]) => `${name} ${Math.round(pct)}`)
    .join(', ');

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

await ensureDatabase(databaseUrl);
// The welcome and quota-alert emails this load causes are delivered, as they would be in production.
const mailDir = await mkdtemp(join(tmpdir(), 'mwbench-mail-'));
const [smtpPort, mailUiPort] = await freePorts(2);
const mail = await startSmtpSink({ smtpPort: smtpPort!, uiPort: mailUiPort!, dir: mailDir });
const stack = await startStack({
  basePort,
  databaseUrl,
  redisUrl: 'redis://127.0.0.1:6379',
  env: benchStackEnv(`mwbench:${runId}:`, { SMTP_URL: mail.smtpUrl }),
});
try {
  const { organizationId, apiKey, token } = await seed(stack.routerUrl);

  console.log(`ingesting for ${seconds} s with ${ingestClients} clients sending 1,000-event batches...`);
  const children = findChildren(Object.fromEntries(services.map((service) => [service.name, service.entry])));
  const processGroups = () => ({
    ...Object.fromEntries(Object.entries(children).map(([name, pid]) => [name, [pid]])),
    postgres: findByCommand('postgres'),
    redis: findByCommand('redis-server'),
    'load generator': [process.pid],
  });
  const cpuSince = startCpuMeter(processGroups);
  const ingestStarted = performance.now();
  const { accepted, seconds: ingestSeconds } = await ingest(stack.routerUrl, apiKey);
  const ingestCpu = cpuSince();
  let persisted = await countPersisted(organizationId);
  while (persisted < accepted) {
    await new Promise((r) => setTimeout(r, 200));
    persisted = await countPersisted(organizationId);
  }
  const persistSeconds = (performance.now() - ingestStarted) / 1000;
  console.log(`the same load appended straight to the event log, for the ratio...`);
  const rawPerSecond = await rawLogRate(organizationId);

  const credentials =
    subscriberUsers > 0 ? (await members(stack.routerUrl, organizationId, token, subscriberUsers)).map((t) => `Bearer ${t}`) : [apiKey];
  const watchers = subscriberUsers > 0 ? `${subscriberUsers} members` : 'one API key';
  console.log(`subscribing ${subscriberCount} subscribers of ${watchers}, then ${eventsPerSecond} events/s for ${seconds} s...`);
  const subscribers = await subscribeAll(stack.routerUrl, credentials, organizationId);
  // Measured from when every subscription is taken: events until each subscriber has had one.
  const warmUpDeadline = Date.now() + 60_000;
  while ([...subscribers.received.values()].some((count) => count === 0)) {
    if (Date.now() > warmUpDeadline) throw new Error('not every subscription was taken within 60 s');
    await graphql(stack.routerUrl, batchMutation, { inputs: batchOf(1, new Date().toISOString()) }, apiKey);
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 1_000));
  subscribers.latencies.length = 0;
  for (const s of subscribers.received.keys()) subscribers.received.set(s, 0);
  const deliveryCpuSince = startCpuMeter(processGroups);
  const ticksPerSecond = 10;
  const perTick = Math.round(eventsPerSecond / ticksPerSecond);
  let sent = 0;
  for (let tick = 0; tick < seconds * ticksPerSecond; tick++) {
    const tickStarted = performance.now();
    const response = await graphql<{ recordUsageBatch: { accepted: number } }>(
      stack.routerUrl,
      batchMutation,
      { inputs: batchOf(perTick, new Date().toISOString()) },
      apiKey,
    );
    sent += response.recordUsageBatch.accepted;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 / ticksPerSecond - (performance.now() - tickStarted))));
  }
  const deliveryCpu = deliveryCpuSince();
  await new Promise((r) => setTimeout(r, 3_000));
  const expected = sent * subscriberCount;
  const delivered = [...subscribers.received.values()].reduce((a, b) => a + b, 0);
  await subscribers.dispose();

  const summary = {
    acceptedPerSecond: Math.round(accepted / ingestSeconds),
    rawLogPerSecond: Math.round(rawPerSecond),
    routerToRawLog: Math.round((accepted / ingestSeconds / rawPerSecond) * 100) / 100,
    persistedPerSecond: Math.round(persisted / persistSeconds),
    subscribers: subscriberCount,
    subscriberUsers,
    eventsPerSecond,
    deliveryP50Ms: percentile(subscribers.latencies, 50),
    deliveryP99Ms: percentile(subscribers.latencies, 99),
    eventsLost: expected - delivered,
  };
  console.log(`
accepted through the router   ${summary.acceptedPerSecond.toLocaleString('en')} events/s (${accepted.toLocaleString('en')} in ${ingestSeconds.toFixed(1)} s, bar 20,000)
straight to the event log      ${summary.rawLogPerSecond.toLocaleString('en')} events/s (router/log ratio ${summary.routerToRawLog})
persisted by the consumer      ${summary.persistedPerSecond.toLocaleString('en')} events/s (from the first batch to the last row, bar 10,000)
CPU while ingesting, % of one core: ${cpuLine(ingestCpu)}
live delivery to ${subscriberCount} subscribers of ${watchers} at ${eventsPerSecond} events/s: p50 ${summary.deliveryP50Ms} ms, p99 ${summary.deliveryP99Ms} ms (bar < 250 ms), lost ${summary.eventsLost} of ${expected.toLocaleString('en')}
CPU while delivering, % of one core: ${cpuLine(deliveryCpu)} (the load generator parses every subscriber's messages)
${JSON.stringify(summary)}`);
  process.exitCode = summary.eventsLost === 0 ? 0 : 1;
} finally {
  await stack.stop();
  await mail.close();
  await rm(mailDir, { recursive: true, force: true });
  await dropDatabase(databaseUrl);
  await deleteRedisKeys('redis://127.0.0.1:6379', `mwbench:${runId}:`);
}
