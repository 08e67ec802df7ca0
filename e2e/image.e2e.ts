import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePortRange } from '../scripts/ports.ts';
import { startPrivatePostgres } from '../scripts/private-services.ts';
import { ensureDatabase, startStack } from '../scripts/stack.ts';
import { gql, stack, unique } from './client.ts';

// The services as the container images hold them (scripts/image.sh, which the Dockerfile runs):
// each package alone with its production dependencies, in a folder outside this checkout so that
// nothing resolves through its node_modules. The test command packages them first (MW_IMAGE_DIR).
const image = process.env['MW_IMAGE_DIR'];
const packaged = !!image && existsSync(join(image, 'router/dist/main.js'));
if (!packaged) console.log('image e2e: skipped, the services are not packaged (npm test runs scripts/image.sh and sets MW_IMAGE_DIR)');

describe.skipIf(!packaged)('the services as the container images run them', () => {
  let running: Awaited<ReturnType<typeof startStack>>;
  let postgres: Awaited<ReturnType<typeof startPrivatePostgres>>;
  let postgresDir: string;
  let routerUrl: string;

  beforeAll(async () => {
    // A PostgreSQL of its own: a second whole stack on the shared one would pass its connection limit.
    postgresDir = await mkdtemp(join(tmpdir(), 'mindweave-image-'));
    postgres = await startPrivatePostgres(join(postgresDir, 'postgres'), await freePort());
    const databaseUrl = postgres.databaseUrl('mindweave');
    await ensureDatabase(databaseUrl);
    const basePort = await freePortRange(20, 20_000, 40_000);
    running = await startStack({
      basePort,
      databaseUrl,
      redisUrl: stack.redisUrl,
      logDir: join(stack.logDir, 'image'),
      image,
      env: {
        // Production, as in the containers: every secret set, nothing from development.
        NODE_ENV: 'production',
        REDIS_KEY_PREFIX: `${stack.env['REDIS_KEY_PREFIX']}image:`,
        INTERNAL_SIGNING_SECRET: randomBytes(32).toString('hex'),
        SECRETS_KEY: randomBytes(32).toString('base64'),
        ADMIN_USER: 'admin',
        ADMIN_PASSWORD: randomBytes(16).toString('hex'),
        SMTP_URL: stack.env['SMTP_URL']!,
        EXPORTS_DIR: join(stack.logDir, 'image-exports'),
      },
    });
    routerUrl = running.routerUrl;
  }, 180_000);
  afterAll(async () => {
    await running?.stop();
    await postgres?.stop();
    await rm(postgresDir, { recursive: true, force: true });
  });

  it('serve the supergraph: an account, usage recorded with an API key, persisted and summed', async () => {
    const register = await gql<{ register: { accessToken: string } }>(
      'mutation ($i: RegisterInput!) { register(input: $i) { accessToken } }',
      { i: { email: `${unique('image')}@example.com`, password: 'image test password', name: 'Image' } },
      { url: routerUrl },
    );
    const token = register.data!.register.accessToken;
    const org = await gql<{ createOrganization: { id: string } }>(
      'mutation ($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
      { i: { name: 'Image', slug: unique('image') } },
      { token, url: routerUrl },
    );
    const organizationId = org.data!.createOrganization.id;
    const project = await gql<{ createProject: { id: string } }>(
      'mutation ($i: CreateProjectInput!) { createProject(input: $i) { id } }',
      { i: { organizationId, name: 'Image' } },
      { token, url: routerUrl },
    );
    const key = await gql<{ createApiKey: { key: string } }>(
      'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }',
      { i: { projectId: project.data!.createProject.id, name: 'image', scopes: ['usage:write', 'usage:read'] } },
      { token, url: routerUrl },
    );
    const apiKey = key.data!.createApiKey.key;
    const recorded = await gql(
      'mutation ($i: [UsageInput!]!) { recordUsageBatch(inputs: $i) { accepted } }',
      { i: [{ model: 'gpt-4o', inputTokens: 10, outputTokens: 5, latencyMs: 1, idempotencyKey: 'image-1' }] },
      { token: apiKey, url: routerUrl },
    );
    expect(recorded.data).toEqual({ recordUsageBatch: { accepted: 1 } });

    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const series = () =>
      gql<{ usageSeries: { requests: number }[] }>(
        'query ($o: ID!, $f: DateTime!, $t: DateTime!) { usageSeries(organizationId: $o, from: $f, to: $t, granularity: HOUR) { requests } }',
        { o: organizationId, f: new Date(hour).toISOString(), t: new Date(hour + 3_600_000).toISOString() },
        { token: apiKey, url: routerUrl },
      );
    const deadline = Date.now() + 20_000;
    let requests = 0;
    while (requests === 0 && Date.now() < deadline) {
      requests = (await series()).data?.usageSeries.reduce((n, point) => n + point.requests, 0) ?? 0;
      if (requests === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(requests).toBe(1);
  });

  it('serve the dashboard, and report every process up', async () => {
    const origin = new URL(routerUrl).origin;
    const dashboard = await fetch(`${origin}/dashboard/`);
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toContain('text/html');
    const operator = `Basic ${Buffer.from(`admin:${running.env['ADMIN_PASSWORD']}`).toString('base64')}`;
    const health = (await (await fetch(`${origin}/health`, { headers: { authorization: operator } })).json()) as {
      status: string;
      dependencies: Record<string, { status: string }>;
    };
    expect(health.status).toBe('ok');
    expect(Object.values(health.dependencies).every((dependency) => dependency.status === 'up')).toBe(true);
  });
});
