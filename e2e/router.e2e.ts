import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose, printSubgraph, readSupergraphConfig, supergraphFile } from '../packages/schema-tools/compose.ts';
import { services } from '../scripts/stack.ts';
import { createTenant, gql, stack } from './client.ts';
import { freePort } from '../scripts/ports.ts';
import { startExtraRouter } from './extra-router.ts';

describe('health routes', () => {
  it('answer on the router and on every subgraph', async () => {
    for (const service of services) {
      const base = `http://127.0.0.1:${stack.basePort + service.offset}`;
      expect((await fetch(`${base}/health/live`)).status, service.name).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status, service.name).toBe(200);
      const detailed = (await (await fetch(`${base}/health`)).json()) as {
        status: string;
        dependencies: Record<string, { status: string; latencyMs: number }>;
      };
      expect(detailed.status, service.name).toBe('ok');
      for (const dependency of Object.values(detailed.dependencies)) {
        expect(dependency).toMatchObject({ status: 'up', latencyMs: expect.any(Number) });
      }
    }
  });

  it("list, on the router, every subgraph, consumer and worker with its state, a consumer's lag and the queues", async () => {
    type Report = {
      status: string;
      dependencies: Record<
        string,
        {
          status: string;
          required: boolean;
          details?: {
            status: string;
            consumers?: { domain: string; group: string; lag: number | null; pending: number | null }[];
            queues?: Record<string, Record<string, number>>;
          };
        }
      >;
    };
    const report = (await (await fetch(`http://127.0.0.1:${stack.basePort}/health`)).json()) as Report;
    const names = services.filter((s) => s.name !== 'router').map((s) => s.name);
    expect(Object.keys(report.dependencies).sort()).toEqual([...names, 'redis'].sort());
    for (const name of names)
      expect(report.dependencies[name], name).toMatchObject({ status: 'up', required: false, details: { status: 'ok' } });
    expect(report.dependencies['analytics-consumer']?.details?.consumers).toEqual([
      {
        domain: 'usage',
        group: 'analytics-persistence',
        lag: expect.any(Number),
        pending: expect.any(Number),
        deadLettered: expect.any(Number),
      },
    ]);
    expect(report.dependencies['workers']?.details?.queues?.['email']).toMatchObject({
      waiting: expect.any(Number),
      active: expect.any(Number),
      failed: expect.any(Number),
    });
  });

  it('say degraded on the router when a subgraph is down, while the router stays ready; in production only operators see why', async () => {
    const dead = await freePort();
    const router = await startExtraRouter('router-dead-subgraph', {
      NODE_ENV: 'production',
      SUBGRAPH_URLS: stack.env['SUBGRAPH_URLS']!.replace(/mcp-registry=[^,]+/, `mcp-registry=http://127.0.0.1:${dead}/graphql`),
    });
    try {
      const base = `http://127.0.0.1:${router.port}`;
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      type Report = { status: string; dependencies: Record<string, { status: string; error?: string; details?: unknown }> };
      const response = await fetch(`${base}/health`);
      const report = (await response.json()) as Report;
      expect(response.status).toBe(200);
      expect(report.status).toBe('degraded');
      expect(report.dependencies['mcp-registry']).toEqual({ status: 'down' });
      expect(report.dependencies['accounts']).toEqual({ status: 'up' });
      const operator = `Basic ${Buffer.from(`${stack.env['ADMIN_USER']}:${stack.env['ADMIN_PASSWORD']}`).toString('base64')}`;
      const detailed = (await (await fetch(`${base}/health`, { headers: { authorization: operator } })).json()) as Report;
      expect(detailed.dependencies['mcp-registry']).toMatchObject({
        status: 'down',
        error: expect.stringMatching(/fetch failed|ECONNREFUSED/),
      });
      expect(detailed.dependencies['accounts']).toMatchObject({ status: 'up', details: { status: 'ok' } });
    } finally {
      await router.stop();
    }
  });
});

// A second router on its own copy of the supergraph and an unreachable Redis.
describe('a router whose Redis is down, serving a supergraph file that changes', () => {
  let port: number;
  let stop: () => Promise<void>;
  const supergraphCopy = join(stack.logDir, 'supergraph-copy.graphql');

  beforeAll(async () => {
    await copyFile(supergraphFile, supergraphCopy);
    ({ port, stop } = await startExtraRouter(
      'router-reload',
      { REDIS_URL: 'redis://127.0.0.1:1', SUPERGRAPH_PATH: supergraphCopy },
      '/health/live',
    ));
  });
  afterAll(() => stop());

  const url = () => `http://127.0.0.1:${port}/graphql`;

  it('stays ready, reports itself degraded naming Redis, and still serves users', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    const detailed = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
      status: string;
      dependencies: Record<string, { status: string }>;
    };
    expect(detailed.status).toBe('degraded');
    expect(detailed.dependencies['redis']?.status).toBe('down');

    const tenant = await createTenant();
    const viaJwt = await gql(
      'query ($id: ID!) { organization(id: $id) { id } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken, url: url() },
    );
    expect(viaJwt.data).toEqual({ organization: { id: tenant.organizationId } });
    // API keys are resolved by accounts directly while their cache is down.
    const viaKey = await gql(
      'query ($id: ID!) { organization(id: $id) { id } }',
      { id: tenant.organizationId },
      { token: tenant.apiKey, url: url() },
    );
    expect(viaKey.data).toEqual({ organization: { id: tenant.organizationId } });
  });

  it('picks up a new supergraph without a restart', async () => {
    const tenant = await createTenant();
    const query = 'query ($id: ID!) { organization(id: $id) { id } }';
    expect((await gql(query, { id: tenant.organizationId }, { token: tenant.user.accessToken, url: url() })).errors).toBeUndefined();

    const identityOnly = (await readSupergraphConfig()).filter((s) => s.name === 'identity');
    const composed = await compose(identityOnly, (config) => printSubgraph(config.name));
    if (!composed.ok) throw new Error(composed.errors.join('\n'));
    await writeFile(supergraphCopy, composed.supergraphSdl);

    const deadline = Date.now() + 10_000;
    let code: string | undefined;
    while (Date.now() < deadline) {
      code = (await gql(query, { id: tenant.organizationId }, { token: tenant.user.accessToken, url: url() })).errors?.[0]?.extensions.code;
      if (code === 'GRAPHQL_VALIDATION_FAILED') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await gql('{ me { id } }', {}, { token: tenant.user.accessToken, url: url() })).data).toEqual({
      me: { id: tenant.user.userId },
    });
  });
});
