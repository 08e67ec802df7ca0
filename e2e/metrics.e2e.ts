import { describe, expect, it, vi } from 'vitest';
import { queueNames, queueStates } from '@mindweave/jobs';
import { services } from '../scripts/stack.ts';
import { createTenant, gql, stack } from './client.ts';

// Every process of the running stack answers GET /metrics: Prometheus' text format, Node's default
// metrics under their standard names, and each one's own families, moved by real traffic.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The exposition text as samples, and the families it declares (`# TYPE`, also those without samples yet). */
function parse(text: string) {
  const samples: Sample[] = [];
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) families.add(line.split(' ')[2]!);
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, families };
}

type Scrape = ReturnType<typeof parse>;
const portOf = (name: string) => stack.basePort + services.find((s) => s.name === name)!.offset;

async function scrape(name: string): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${portOf(name)}/metrics`);
  expect(response.status, name).toBe(200);
  expect(response.headers.get('content-type'), name).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await response.text());
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(scraped: Scrape, name: string, labels: Record<string, string> = {}) {
  return scraped.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
const series = (scraped: Scrape, name: string, labels: Record<string, string> = {}) =>
  scraped.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

const recordUsage = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted duplicates } }';
const requestExport = 'mutation ($input: RequestExportInput!) { requestExport(input: $input) { id status } }';
const exportJob = 'query ($id: ID!) { exportJob(id: $id) { id status } }';

describe('metrics', () => {
  it('every service serves /metrics with Node defaults, subgraph operations, consumer lag, queue depths and job durations that move with traffic', {
    timeout: 90_000,
  }, async () => {
    const before = Object.fromEntries(await Promise.all(services.map(async (s) => [s.name, await scrape(s.name)] as const)));

    // Traffic: a tenant (identity, accounts), usage recorded (usage, then the consumers), one bad
    // event (BAD_USER_INPUT from the usage subgraph) and an export run by the workers.
    const tenant = await createTenant();
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < 3; i++)
      expect(
        (
          await gql(
            recordUsage,
            { input: { model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50, latencyMs: 10, occurredAt } },
            { token: tenant.apiKey },
          )
        ).data,
      ).toEqual({ recordUsage: { accepted: 1, duplicates: 0 } });
    expect(
      (
        await gql(
          recordUsage,
          { input: { model: 'gpt-4o-mini', inputTokens: -1, outputTokens: 50, latencyMs: 10 } },
          { token: tenant.apiKey },
        )
      ).errors?.[0]?.extensions.code,
    ).toBe('BAD_USER_INPUT');
    // Straight to a subgraph, unsigned: refused before any operation runs.
    expect(
      (
        await fetch(`http://127.0.0.1:${portOf('usage')}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{ __typename }"}',
        })
      ).status,
    ).toBe(401);
    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    const requested = await gql(
      requestExport,
      { input: { organizationId: tenant.organizationId, type: 'USAGE', format: 'CSV', ...range } },
      { token: tenant.user.accessToken },
    );
    expect(requested.errors).toBeUndefined();
    const id = requested.data!['requestExport'].id as string;
    await vi.waitFor(
      async () => expect((await gql(exportJob, { id }, { token: tenant.user.accessToken })).data!['exportJob'].status).toBe('SUCCEEDED'),
      { timeout: 45_000, interval: 200 },
    );

    // A job's completion reaches the worker's histogram just after the job's row says so.
    let after: Record<string, Scrape> = {};
    await vi.waitFor(
      async () => {
        after = Object.fromEntries(await Promise.all(services.map(async (s) => [s.name, await scrape(s.name)] as const)));
        expect(total(after['workers']!, 'mw_job_duration_seconds_count', { queue: 'reports', status: 'completed' })).toBeGreaterThan(
          total(before['workers']!, 'mw_job_duration_seconds_count', { queue: 'reports', status: 'completed' }),
        );
      },
      { timeout: 10_000, interval: 300 },
    );

    // Node's default metrics under their standard names.
    for (const { name } of services) {
      const scraped = after[name]!;
      for (const family of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        expect(series(scraped, family), `${name} ${family}`).toHaveLength(1);
      }
      expect(total(scraped, 'process_cpu_seconds_total'), name).toBeGreaterThan(0);
      expect(series(scraped, 'nodejs_eventloop_lag_p99_seconds'), name).toHaveLength(1);
    }

    // The router: operations, their errors, and its fetches to the subgraphs.
    const router = (scraped: Scrape) => total(scraped, 'mw_router_operation_duration_seconds_count', { type: 'mutation' });
    expect(router(after['router']!) - router(before['router']!)).toBeGreaterThanOrEqual(9);
    expect(
      total(after['router']!, 'mw_router_operation_errors_total', { code: 'BAD_USER_INPUT' }) -
        total(before['router']!, 'mw_router_operation_errors_total', { code: 'BAD_USER_INPUT' }),
    ).toBeGreaterThanOrEqual(1);
    expect(total(after['router']!, 'mw_router_subgraph_fetch_duration_seconds_count', { subgraph: 'usage' })).toBeGreaterThan(
      total(before['router']!, 'mw_router_subgraph_fetch_duration_seconds_count', { subgraph: 'usage' }),
    );

    // The subgraphs: operations by name and type, and their errors by contract code.
    const mutations = (scraped: Scrape) => total(scraped, 'mw_subgraph_operation_duration_seconds_count', { type: 'mutation' });
    expect(mutations(after['usage']!) - mutations(before['usage']!)).toBeGreaterThanOrEqual(4);
    for (const name of ['identity', 'accounts', 'exports']) expect(mutations(after[name]!), name).toBeGreaterThan(mutations(before[name]!));
    expect(
      series(after['usage']!, 'mw_subgraph_operation_duration_seconds_count', { type: 'mutation' }).every(
        (s) => s.labels['operation'] !== '',
      ),
    ).toBe(true);
    expect(
      total(after['usage']!, 'mw_subgraph_operation_errors_total', { code: 'BAD_USER_INPUT', type: 'mutation' }) -
        total(before['usage']!, 'mw_subgraph_operation_errors_total', { code: 'BAD_USER_INPUT', type: 'mutation' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      total(after['usage']!, 'mw_subgraph_requests_refused_total', { reason: 'signature' }) -
        total(before['usage']!, 'mw_subgraph_requests_refused_total', { reason: 'signature' }),
    ).toBeGreaterThanOrEqual(1);
    for (const name of ['identity', 'accounts', 'usage', 'analytics', 'governance', 'mcp-registry', 'exports', 'webhooks']) {
      expect(after[name]!.families.has('mw_subgraph_operation_duration_seconds'), name).toBe(true);
      expect(after[name]!.families.has('mw_subgraph_operation_errors_total'), name).toBe(true);
    }

    // The consumers: lag, pending and dead-lettered per stream of their group, read from Redis.
    const consumers = {
      'analytics-consumer': ['analytics-persistence', ['usage']],
      'governance-consumer': ['governance-audit', ['policy']],
      workers: ['workers', ['user', 'usage', 'policy', 'export', 'mcp', 'organization']],
    } as const;
    for (const [name, [group, domains]] of Object.entries(consumers)) {
      for (const domain of domains) {
        const labels = { group, stream: `mindweave.${domain}.events` };
        for (const family of ['mw_consumer_lag', 'mw_consumer_pending', 'mw_consumer_dead_lettered']) {
          const found = series(after[name]!, family, labels);
          expect(found, `${name} ${family} ${domain}`).toHaveLength(1);
          expect(found[0]!.value, `${name} ${family} ${domain}`).toBeGreaterThanOrEqual(0);
        }
      }
      expect(series(after[name]!, 'mw_consumer_lag').length, name).toBe(domains.length);
      expect(total(after[name]!, 'mw_metrics_collector_up', { collector: 'consumer_lag' }), name).toBe(1);
    }

    // The workers: every queue's depth in every state, and the export's run.
    const workers = after['workers']!;
    for (const queue of queueNames) {
      for (const state of queueStates) expect(series(workers, 'mw_queue_jobs', { queue, state }), `${queue} ${state}`).toHaveLength(1);
      expect(series(workers, 'mw_queue_paused', { queue })[0]?.value, queue).toBe(0);
    }
    expect(total(workers, 'mw_queue_jobs', { queue: 'reports', state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(total(workers, 'mw_metrics_collector_up', { collector: 'queues' })).toBe(1);
    expect(series(workers, 'mw_job_duration_seconds_count', { queue: 'reports', name: 'export', status: 'completed' })).toHaveLength(1);
    expect(workers.families.has('mw_job_failures_total')).toBe(true);
  });
});
