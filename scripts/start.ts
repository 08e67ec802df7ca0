import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recordDemoUsage } from './demo-usage.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';
import { checkPostgres, checkRedis, ensureDatabase, repoRoot, startStack } from './stack.ts';

// The start command (README): boots the whole supergraph on this machine and seeds a demo tenant.
const databaseUrl = process.env['DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/mindweave';
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const basePort = Number(process.env['PORT'] ?? 4000);
const demoFile = join(repoRoot, '.mindweave/demo.json');

function fail(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  process.exit(1);
}

const pgProblem = await checkPostgres(databaseUrl);
if (pgProblem) {
  fail(`PostgreSQL is not reachable at ${databaseUrl} (${pgProblem}).
Start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)
or point DATABASE_URL at a running server.`);
}
const redisProblem = await checkRedis(redisUrl);
if (redisProblem) {
  fail(`Redis is not reachable at ${redisUrl} (${redisProblem}).
Start it (redis-server --daemonize yes --port 6379) or point REDIS_URL at a running server.`);
}
if (await ensureDatabase(databaseUrl)) process.stdout.write(`Created database ${new URL(databaseUrl).pathname.slice(1)}\n`);

// Emails go to a local sink that keeps them for a person to read, unless SMTP_URL points elsewhere.
let mail: SmtpSink | undefined;
if (!process.env['SMTP_URL']) {
  const dir = process.env['MAIL_DIR'] ?? join(repoRoot, '.mindweave/mail');
  mail = await startSmtpSink({ smtpPort: 1025, uiPort: Number(process.env['MAIL_UI_PORT'] ?? 4025), dir }).catch((error: unknown) =>
    fail(`The local SMTP sink could not start on ports 1025 and ${process.env['MAIL_UI_PORT'] ?? 4025} (${(error as Error).message}).
Stop what holds them, set MAIL_UI_PORT, or point SMTP_URL at an SMTP server.`),
  );
  process.stdout.write(`Mail sink on ${mail.smtpUrl}: messages at ${mail.uiUrl}\n`);
}

const stack = await startStack({ basePort, databaseUrl, redisUrl, env: mail ? { SMTP_URL: mail.smtpUrl } : {} }).catch(async (error: unknown) => {
  await mail?.close();
  return fail(`Start-up failed: ${(error as Error).message}`);
});

async function graphql<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const response = await fetch(stack.routerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) throw new Error(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${response.status}`);
  return body.data;
}

type Demo = { email: string; password: string; organizationId: string; projectId: string; apiKey: string };

/** Seeds the demo tenant on an empty database; on later starts, shows what was seeded then. */
async function seedDemo(): Promise<Demo> {
  const email = 'demo@mindweave.dev';
  const password = 'mindweave-demo-password';
  const existing = await readFile(demoFile, 'utf8').then((text) => JSON.parse(text) as Demo, () => null);
  const login = await graphql<{ login: { accessToken: string } }>(
    'mutation Login($input: LoginInput!) { login(input: $input) { accessToken } }',
    { input: { email, password } },
  ).catch(() => null);
  if (login && existing) return existing;

  const token = login
    ? login.login.accessToken
    : (
        await graphql<{ register: { accessToken: string } }>(
          'mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }',
          { input: { email, password, name: 'Demo User' } },
        )
      ).register.accessToken;
  const slug = login ? `demo-${Date.now().toString(36)}` : 'demo';
  const { createOrganization: org } = await graphql<{ createOrganization: { id: string } }>(
    'mutation Org($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
    { input: { name: 'Demo Organization', slug } },
    token,
  );
  const { createProject: project } = await graphql<{ createProject: { id: string } }>(
    'mutation Project($input: CreateProjectInput!) { createProject(input: $input) { id } }',
    { input: { organizationId: org.id, name: 'Demo Project' } },
    token,
  );
  const { createApiKey } = await graphql<{ createApiKey: { key: string } }>(
    'mutation Key($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
    { input: { projectId: project.id, name: 'Demo key', scopes: ['usage:write', 'usage:read', 'projects:read'] } },
    token,
  );
  const demo = { email, password, organizationId: org.id, projectId: project.id, apiKey: createApiKey.key };
  await mkdir(join(repoRoot, '.mindweave'), { recursive: true });
  await writeFile(demoFile, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
}

try {
  const demo = await seedDemo();
  // So that the dashboard opens on a chart; a failure here costs the chart, not the start.
  await recordDemoUsage({ url: stack.routerUrl, apiKey: demo.apiKey }).catch((error: unknown) => process.stderr.write(`Recording the demo usage failed: ${(error as Error).message}\n`));
  process.stdout.write(`
MindWeave is running.

  Dashboard          http://localhost:${basePort}/dashboard/  (sign in as the demo user below)
  GraphQL endpoint   http://localhost:${basePort}/graphql  (a browser gets the GraphQL IDE, with the demo API key)
  Health             http://localhost:${basePort}/health
  Queues (admin)     http://localhost:${basePort}/admin/queues  (${process.env['ADMIN_USER'] ?? 'admin'} / ${process.env['ADMIN_PASSWORD'] ? '<ADMIN_PASSWORD>' : 'admin'})
  Emails             ${mail ? `${mail.uiUrl}  (kept in ${mail.dir})` : `sent to ${process.env['SMTP_URL']}`}

  Demo user          ${demo.email} / ${demo.password}
  Organization id    ${demo.organizationId}
  Project id         ${demo.projectId}
  API key            ${demo.apiKey}

Try: curl -s http://localhost:${basePort}/graphql -H 'content-type: application/json' \\
       -H 'authorization: Bearer ${demo.apiKey}' \\
       -d '{"query":"{ organization(id: \\"${demo.organizationId}\\") { name projects { name } } }"}'

Press Ctrl-C to stop.
`);
} catch (error) {
  await stack.stop();
  await mail?.close();
  fail(`Seeding the demo data failed: ${(error as Error).message}`);
}

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nStopping...\n');
  await stack.stop();
  await mail?.close();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
