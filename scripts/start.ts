import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recordDemoUsage } from './demo-usage.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';
import { baseEnv, parseEnv, signIdentity } from '@mindweave/service-kit';
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

const stack = await startStack({ basePort, databaseUrl, redisUrl, env: mail ? { SMTP_URL: mail.smtpUrl } : {} }).catch(
  async (error: unknown) => {
    await mail?.close();
    return fail(`Start-up failed: ${(error as Error).message}`);
  },
);

interface GraphQLAnswer<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** `headers` may depend on the body (a signature over it). */
async function post<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> | ((body: string) => Record<string, string>),
): Promise<GraphQLAnswer<T>> {
  const body = JSON.stringify({ query, variables });
  const extra = typeof headers === 'function' ? headers(body) : headers;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...extra },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  return (await response.json()) as GraphQLAnswer<T>;
}

function dataOf<T>(answer: GraphQLAnswer<T>): T {
  if (answer.errors?.length || !answer.data) throw new Error(answer.errors?.map((e) => e.message).join('; ') ?? 'no data');
  return answer.data;
}

/** Through the router, as a client. */
const routerGraphql = async <T>(query: string, variables: Record<string, unknown>, token: string) =>
  dataOf(await post<T>(stack.routerUrl, query, variables, { authorization: `Bearer ${token}` }));

type Demo = { email: string; password: string; organizationId: string; projectId: string; apiKey: string; databaseId: string };
const demoEmail = 'demo@mindweave.dev';
const demoPassword = 'mindweave-demo-password';

/**
 * The demo user's access token, from the identity subgraph itself, signed as the router signs: the
 * start command is the operator's own tool, so it does not go through the router's login limits
 * (a few wrong logins from this machine would otherwise block it for 15 minutes).
 */
async function demoUserToken(): Promise<string> {
  const identityUrl = `${stack.env['IDENTITY_INTERNAL_URL']}/graphql`;
  const secret = parseEnv(baseEnv).INTERNAL_SIGNING_SECRET;
  const signed = (body: string) => signIdentity(secret, { kind: 'anonymous' }, `demo-seed-${Date.now()}`, body);
  const login = await post<{ login: { accessToken: string | null } }>(
    identityUrl,
    'mutation Login($input: LoginInput!) { login(input: $input) { accessToken } }',
    { input: { email: demoEmail, password: demoPassword } },
    signed,
  );
  const token = login.data?.login.accessToken;
  if (token) return token;
  if (login.errors?.[0]?.extensions?.code !== 'UNAUTHENTICATED')
    throw new Error(`signing in the demo user failed: ${login.errors?.[0]?.message ?? 'no token (MFA enabled?)'}`);
  const registered = await post<{ register: { accessToken: string } }>(
    identityUrl,
    'mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }',
    { input: { email: demoEmail, password: demoPassword, name: 'Demo User' } },
    signed,
  );
  if (registered.errors?.[0]?.extensions?.code === 'CONFLICT')
    throw new Error(`${demoEmail} exists with another password; sign in as it, or use a fresh database`);
  return dataOf(registered).register.accessToken;
}

/**
 * Whether the key answers for its organization through the router: true, false when the router
 * refuses it (another database's key, revoked), and asked again while the router cannot tell (an
 * outage), so that a brief one neither mints a new key nor lets an unchecked one be printed.
 */
async function demoKeyWorks(demo: Pick<Demo, 'apiKey' | 'organizationId'>): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const answer = await post<{ organization: { id: string } | null }>(
      stack.routerUrl,
      'query Demo($id: ID!) { organization(id: $id) { id } }',
      { id: demo.organizationId },
      { authorization: `Bearer ${demo.apiKey}` },
    ).catch(() => null);
    if (answer?.data?.organization?.id === demo.organizationId) return true;
    const code = answer?.errors?.[0]?.extensions?.code;
    if (code === 'UNAUTHENTICATED' || code === 'NOT_FOUND' || code === 'FORBIDDEN' || answer?.data?.organization === null) return false;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error('the router could not check the demo API key');
}

/** Which database a saved demo belongs to, without keeping its URL (it may hold a password). */
const databaseId = createHash('sha256').update(databaseUrl).digest('hex').slice(0, 16);

/**
 * The demo tenant: the one saved in .mindweave/demo.json when its key still works on this database;
 * otherwise a new key in the demo user's demo organization (created, with a project, when there is
 * none). Only a key proven to work is returned.
 */
async function seedDemo(): Promise<Demo> {
  const saved = await readFile(demoFile, 'utf8').then(
    (text) => JSON.parse(text) as Partial<Demo>,
    () => null,
  );
  if (
    saved?.databaseId === databaseId &&
    saved.apiKey &&
    saved.organizationId &&
    saved.projectId &&
    (await demoKeyWorks({ apiKey: saved.apiKey, organizationId: saved.organizationId }))
  )
    return saved as Demo;

  const token = await demoUserToken();
  const { me } = await routerGraphql<{ me: { memberships: { organization: { id: string; slug: string; projects: { id: string }[] } }[] } }>(
    'query DemoOrganizations { me { memberships { organization { id slug projects { id } } } } }',
    {},
    token,
  );
  let organization = me.memberships.map((m) => m.organization).find((org) => org.slug.startsWith('demo'));
  if (!organization) {
    const createOrganization = async (slug: string) =>
      await post<{ createOrganization: { id: string } }>(
        stack.routerUrl,
        'mutation DemoOrg($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
        { input: { name: 'Demo Organization', slug } },
        { authorization: `Bearer ${token}` },
      );
    let created = await createOrganization('demo');
    if (created.errors?.[0]?.extensions?.code === 'CONFLICT') created = await createOrganization(`demo-${Date.now().toString(36)}`);
    organization = { id: dataOf(created).createOrganization.id, slug: 'demo', projects: [] };
  }
  const projectId =
    organization.projects[0]?.id ??
    (
      await routerGraphql<{ createProject: { id: string } }>(
        'mutation DemoProject($input: CreateProjectInput!) { createProject(input: $input) { id } }',
        { input: { organizationId: organization.id, name: 'Demo Project' } },
        token,
      )
    ).createProject.id;
  const { createApiKey } = await routerGraphql<{ createApiKey: { key: string } }>(
    'mutation DemoKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
    { input: { projectId, name: 'Demo key', scopes: ['usage:write', 'usage:read', 'projects:read'] } },
    token,
  );
  const demo: Demo = {
    email: demoEmail,
    password: demoPassword,
    organizationId: organization.id,
    projectId,
    apiKey: createApiKey.key,
    databaseId,
  };
  if (!(await demoKeyWorks(demo))) throw new Error('the new demo API key does not answer through the router');
  await mkdir(join(repoRoot, '.mindweave'), { recursive: true });
  await writeFile(demoFile, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
}

const demo = await seedDemo().catch((error: unknown) => {
  // The stack serves without it: say why, and keep running.
  process.stderr.write(`\nThe demo tenant could not be prepared (${(error as Error).message}); everything else is running.\n`);
  return null;
});
// So that the dashboard opens on a chart; a failure here costs the chart, not the start.
if (demo)
  await recordDemoUsage({ url: stack.routerUrl, apiKey: demo.apiKey }).catch((error: unknown) =>
    process.stderr.write(`Recording the demo usage failed: ${(error as Error).message}\n`),
  );
process.stdout.write(`
MindWeave is running.

  Dashboard          http://localhost:${basePort}/dashboard/  (sign in as the demo user below)
  GraphQL endpoint   http://localhost:${basePort}/graphql  (a browser gets the GraphQL IDE, with the demo API key)
  Health             http://localhost:${basePort}/health
  Queues (admin)     http://localhost:${basePort}/admin/queues  (${process.env['ADMIN_USER'] ?? 'admin'} / ${process.env['ADMIN_PASSWORD'] ? '<ADMIN_PASSWORD>' : 'admin'})
  Emails             ${mail ? `${mail.uiUrl}  (kept in ${mail.dir})` : `sent to ${process.env['SMTP_URL']}`}
${
  demo
    ? `
  Demo user          ${demo.email} / ${demo.password}
  Organization id    ${demo.organizationId}
  Project id         ${demo.projectId}
  API key            ${demo.apiKey}

Try: curl -s http://localhost:${basePort}/graphql -H 'content-type: application/json' \\
       -H 'authorization: Bearer ${demo.apiKey}' \\
       -d '{"query":"{ organization(id: \\"${demo.organizationId}\\") { name projects { name } } }"}'
`
    : ''
}
Press Ctrl-C to stop.
`);

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
