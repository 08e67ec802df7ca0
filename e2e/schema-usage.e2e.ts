import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { repoRoot, supergraphFile } from '../packages/schema-tools/compose.ts';
import { createTenant, gql, stack, unique } from './client.ts';
import { sql } from './db.ts';
import { watch, wsUrl } from './ws.ts';

// Operations of two clients through the router, reported to the event log, stored in the schema
// registry by the workers, and then what `pnpm schema check` and `pnpm schema unused` make of them.
const web = unique('e2e-usage-web');
const cli = unique('e2e-usage-cli');
const webQuery = 'query UsageWebOrganization($id: ID!) { organization(id: $id) { id name slug } }';
const cliQuery = 'query UsageCliMe { me { id email } }';

let tenant: Awaited<ReturnType<typeof createTenant>>;
let dir: string;

/** Runs `pnpm schema <args>` as a user would, against the test stack's registry. */
function schemaCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'packages/schema-tools/cli.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, DATABASE_URL: stack.databaseUrl }, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The supergraph without one field: a line of the type's block, as a subgraph change would leave it. */
function withoutField(sdl: string, type: string, field: string): string {
  const lines = sdl.split('\n');
  const start = lines.findIndex((line) => line === `type ${type}` || line.startsWith(`type ${type} `));
  if (start < 0) throw new Error(`no type ${type}`);
  const end = lines.findIndex((line, index) => index > start && line === '}');
  const at = lines.findIndex(
    (line, index) => index > start && index < end && (line.trimStart().startsWith(`${field}:`) || line.trimStart().startsWith(`${field}(`)),
  );
  if (at < 0) throw new Error(`no field ${type}.${field}`);
  return [...lines.slice(0, at), ...lines.slice(at + 1)].join('\n');
}

async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  tenant = await createTenant();
  dir = await mkdtemp(join(tmpdir(), 'mw-schema-usage-'));
  for (let i = 0; i < 3; i++) {
    const result = await gql(
      webQuery,
      { id: tenant.organizationId },
      { token: tenant.user.accessToken, headers: { 'apollographql-client-name': web, 'apollographql-client-version': '2.1.0' } },
    );
    expect(result.errors).toBeUndefined();
  }
  for (let i = 0; i < 2; i++) {
    const result = await gql(
      cliQuery,
      {},
      { token: tenant.user.accessToken, headers: { 'x-client-name': cli, 'x-client-version': '0.9' } },
    );
    expect(result.errors).toBeUndefined();
  }
  // Reported each half second by the router, stored by the workers' consumer.
  await waitFor('both clients in the registry', async () => {
    const rows = await sql<{ client_name: string; requests: string }>(
      'SELECT client_name, sum(requests) AS requests FROM schema_registry.operation_usage WHERE client_name = ANY($1) GROUP BY client_name',
      [[web, cli]],
    ).catch(() => []);
    const counts = Object.fromEntries(rows.map((r) => [r.client_name, Number(r.requests)]));
    return counts[web] === 3 && counts[cli] === 2 ? counts : undefined;
  });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('schema checks against recorded traffic', () => {
  it('stores each operation with its client, version, coordinates, requests and latency', async () => {
    const [row] = await sql<{
      operation_name: string;
      client_version: string;
      requests: string;
      errors: string;
      latency: string[];
      coordinates: string[];
    }>(
      `SELECT u.operation_name, u.client_version, sum(u.requests) AS requests, sum(u.errors) AS errors, o.coordinates,
              (SELECT array_agg(x) FROM (SELECT unnest(latency) AS x FROM schema_registry.operation_usage WHERE client_name = $1) l) AS latency
       FROM schema_registry.operation_usage u JOIN schema_registry.operations o ON o.hash = u.operation_hash AND o.name = u.operation_name
       WHERE u.client_name = $1 GROUP BY 1, 2, 5`,
      [web],
    );
    expect(row).toMatchObject({ operation_name: 'UsageWebOrganization', client_version: '2.1.0', requests: '3', errors: '0' });
    expect(row!.coordinates).toEqual(
      expect.arrayContaining(['Query.organization', 'Query.organization.id', 'Organization.slug', 'Organization.name', 'ID']),
    );
    expect(row!.latency.reduce((sum, n) => sum + Number(n), 0)).toBe(3);
  });

  it('counts a subscription once, when it is subscribed, with the client named in connection_init', async () => {
    const live = unique('e2e-usage-live');
    const client = createClient({
      url: wsUrl(stack.routerUrl),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tenant.user.accessToken}`, 'x-client-name': live, 'x-client-version': '3' },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
    });
    const watched = watch(client, 'subscription UsageLive($id: ID!) { usageUpdated(organizationId: $id) { id model } }', {
      id: tenant.organizationId,
    });
    try {
      const [row] = await waitFor('the subscription in the registry', async () => {
        const rows = await sql<{ operation_name: string; type: string; client_version: string; requests: string }>(
          `SELECT u.operation_name, o.type, u.client_version, sum(u.requests) AS requests FROM schema_registry.operation_usage u
           JOIN schema_registry.operations o ON o.hash = u.operation_hash AND o.name = u.operation_name WHERE u.client_name = $1 GROUP BY 1, 2, 3`,
          [live],
        );
        return rows.length ? rows : undefined;
      });
      expect(row).toEqual({ operation_name: 'UsageLive', type: 'subscription', client_version: '3', requests: '1' });
      expect(watched.errors).toEqual([]);
    } finally {
      watched.stop();
      await client.dispose();
    }
  });

  it('fails on removing a field a client used, naming the client and the operation', async () => {
    const file = join(dir, 'without-slug.graphql');
    await writeFile(file, withoutField(await readFile(supergraphFile, 'utf8'), 'Organization', 'slug'));
    const { code, stdout, stderr } = await schemaCli(['check', '--supergraph', file, '--base', 'HEAD', '--usage-days', '1']);
    const output = stdout + stderr;
    expect(code, output).toBe(1);
    expect(output).toContain("Field 'slug' was removed from object type 'Organization'");
    expect(output).toMatch(/Traffic: \d+ operation\(s\) of \d+ client\(s\) recorded by the routers in the last 1 day/);
    expect(output).toMatch(new RegExp(`UsageWebOrganization \\([0-9a-f]{12}\\) by ${web} 2\\.1\\.0: 3 request\\(s\\)`));
    expect(output).not.toContain(cli);
    expect(output).toContain('Schema check failed');
  });

  it('passes on removing a field nobody used, which `schema unused` lists', async () => {
    const unused = await schemaCli(['unused', '--days', '1', '--json']);
    expect(unused.code, unused.stderr).toBe(0);
    const listed = (JSON.parse(unused.stdout) as { unused: string[] }).unused;
    expect(listed).toContain('OperationClientUsage.lastSeen');
    expect(listed).not.toContain('Organization.slug');
    expect(listed).not.toContain('User.email');

    const file = join(dir, 'without-last-seen.graphql');
    await writeFile(file, withoutField(await readFile(supergraphFile, 'utf8'), 'OperationClientUsage', 'lastSeen'));
    const { code, stdout, stderr } = await schemaCli(['check', '--supergraph', file, '--base', 'HEAD', '--usage-days', '1']);
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toContain("Field 'lastSeen' was removed from object type 'OperationClientUsage'");
    expect(stdout).toContain('unused: no SDK operation, and no operation recorded in the last 1 day(s), uses it');
    expect(stdout).toContain('Schema check passed');
  });

  it('leaves out excluded clients and operations under --min-requests', async () => {
    const file = join(dir, 'without-email.graphql');
    await writeFile(file, withoutField(await readFile(supergraphFile, 'utf8'), 'User', 'email'));
    const all = await schemaCli(['check', '--supergraph', file, '--base', 'HEAD', '--usage-days', '1']);
    expect(all.code).toBe(1);
    expect(all.stderr).toMatch(new RegExp(`UsageCliMe \\([0-9a-f]{12}\\) by ${cli} 0\\.9: 2 request\\(s\\)`));
    const excluded = await schemaCli(['check', '--supergraph', file, '--base', 'HEAD', '--usage-days', '1', '--exclude-client', cli]);
    expect(excluded.stdout + excluded.stderr).not.toContain(`by ${cli}`);
    expect(excluded.stdout + excluded.stderr).toContain(`excluding ${cli}`);
    const fewer = await schemaCli(['check', '--supergraph', file, '--base', 'HEAD', '--usage-days', '1', '--min-requests', '3']);
    expect(fewer.stdout + fewer.stderr).not.toContain(`by ${cli}`);
  });

  it('says it checked without traffic when no registry is reachable', async () => {
    const file = join(dir, 'without-last-seen.graphql');
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--conditions=development', '--import', 'tsx', 'packages/schema-tools/cli.ts', 'check', '--supergraph', file, '--base', 'HEAD'],
        { cwd: repoRoot, env: { ...process.env, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: stdout + stderr }),
      );
    });
    expect(result.output).toContain('Checked without traffic: the registry at DATABASE_URL could not be read');
    // Nothing shows the removal unused, so it needs an approval.
    expect(result.code).toBe(1);
  });
});

describe('schema usage in GraphQL', () => {
  it('shows owners and admins of the platform organization who uses a field, and operations by client over time', async () => {
    const platformId = stack.env['PLATFORM_ORGANIZATION_ID']!;
    // The platform organization is the operator's, made once at installation.
    await sql(`INSERT INTO accounts.organizations (id, name, slug) VALUES ($1, 'Platform', $2) ON CONFLICT (id) DO NOTHING`, [
      platformId,
      unique('platform'),
    ]);
    await sql(`INSERT INTO accounts.memberships (id, "organizationId", "userId", role) VALUES (gen_random_uuid(), $1, $2, 'OWNER')`, [
      platformId,
      tenant.user.userId,
    ]);

    const field = await gql<{
      fieldUsage: {
        requests: number;
        clients: string[];
        operations: { operationName: string; clientName: string; clientVersions: string[]; requests: number }[];
      };
    }>(
      'query ($c: String!) { fieldUsage(coordinate: $c, days: 1) { requests clients operations { operationName clientName clientVersions requests } } }',
      { c: 'Organization.slug' },
      { token: tenant.user.accessToken },
    );
    expect(field.errors).toBeUndefined();
    expect(field.data!.fieldUsage.clients).toContain(web);
    expect(field.data!.fieldUsage.clients).not.toContain(cli);
    expect(field.data!.fieldUsage.operations).toContainEqual({
      operationName: 'UsageWebOrganization',
      clientName: web,
      clientVersions: ['2.1.0'],
      requests: 3,
    });

    const now = Date.now();
    const series = await gql<{ operationUsage: { operationName: string; clientVersion: string; requests: number; errors: number }[] }>(
      'query ($from: DateTime!, $to: DateTime!, $client: String) { operationUsage(from: $from, to: $to, granularity: DAY, clientName: $client) { operationName clientVersion requests errors } }',
      { from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 60_000).toISOString(), client: cli },
      { token: tenant.user.accessToken },
    );
    expect(series.errors).toBeUndefined();
    expect(series.data!.operationUsage.reduce((sum, p) => sum + p.requests, 0)).toBe(2);
    expect(series.data!.operationUsage[0]).toMatchObject({ operationName: 'UsageCliMe', clientVersion: '0.9', errors: 0 });

    // Anyone else: FORBIDDEN, an owner of their own organization included.
    const other = await createTenant();
    const refused = await gql('{ fieldUsage(coordinate: "Organization.slug") { requests } }', {}, { token: other.user.accessToken });
    expect(refused.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const anonymous = await gql('{ unusedFields(days: 1) }');
    expect(anonymous.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });
});
