import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { repoRoot } from '../scripts/stack.ts';
import {
  AcceptInvitationDocument,
  CreateApiKeyDocument,
  CreateOrganizationDocument,
  CreatePolicyDocument,
  CreateProjectDocument,
  CreateWebhookEndpointDocument,
  createMindWeaveClient,
  DeleteOrganizationDocument,
  DeletePolicyDocument,
  DeleteProjectDocument,
  DeleteWebhookEndpointDocument,
  EnableWebhookEndpointDocument,
  ExportJobDocument,
  InviteMemberDocument,
  LoginDocument,
  LogoutDocument,
  McpServerDocument,
  McpServersDocument,
  MeDocument,
  MindWeaveError,
  OrganizationAuditLogDocument,
  OrganizationDocument,
  OrganizationInvitationsDocument,
  OrganizationMembersDocument,
  PoliciesDocument,
  PublishMcpServerVersionDocument,
  RecordUsageBatchDocument,
  RecordUsageDocument,
  RefreshTokenDocument,
  RegisterDocument,
  RegisterMcpServerDocument,
  RemoveMemberDocument,
  RequestExportDocument,
  RevokeApiKeyDocument,
  RevokeInvitationDocument,
  RotateApiKeyDocument,
  UpdateMemberRoleDocument,
  UpdateOrganizationDocument,
  UpdatePolicyDocument,
  UsageSeriesDocument,
  UsageUpdatedDocument,
  WebhookEndpointDocument,
  WebhookEndpointsDocument,
  type MindWeaveClientOptions,
  type TypedDocumentNode,
  type UsageUpdatedSubscription,
} from '../packages/sdk/src/index.ts';
import { stack, testPassword, unique } from './client.ts';
import { startExtraRouter } from './extra-router.ts';
import { linkIn, waitForMail } from './mail.ts';

const manifestFile = join(repoRoot, 'packages/sdk/persisted-documents.json');

/** SDK clients whose HTTP bodies are kept, to prove what goes over the wire. */
const sent: Record<string, unknown>[] = [];
const spyingFetch: typeof fetch = async (input, init) => {
  if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
  return fetch(input, init);
};
const clients: ReturnType<typeof createMindWeaveClient>[] = [];
function client(options: Partial<MindWeaveClientOptions> = {}) {
  const created = createMindWeaveClient({
    url: stack.routerUrl,
    fetch: spyingFetch,
    webSocketImpl: WebSocket,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 1_000 },
    ...options,
  });
  clients.push(created);
  return created;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

const event = (model = 'gpt-4o-mini') => ({ model, inputTokens: 100, outputTokens: 50, latencyMs: 10 });

async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}

/** A user with an organization, a project and an API key, set up through the SDK. */
async function sdkTenant(url = stack.routerUrl) {
  const email = `${unique('sdk')}@example.com`;
  const anonymous = client({ url });
  const { register } = await anonymous.request(RegisterDocument, { input: { email, password: testPassword, name: 'SDK User' } });
  const user = client({ url, auth: { accessToken: register.accessToken! } });
  const organization = (await user.request(CreateOrganizationDocument, { input: { name: 'SDK Org', slug: unique('sdk') } }))
    .createOrganization;
  const project = (await user.request(CreateProjectDocument, { input: { organizationId: organization.id, name: 'SDK Project' } }))
    .createProject;
  const created = (
    await user.request(CreateApiKeyDocument, { input: { projectId: project.id, name: 'sdk', scopes: ['usage:write', 'usage:read'] } })
  ).createApiKey;
  return { email, register, anonymous, user, organization, project, created, service: client({ url, auth: { apiKey: created.key } }) };
}

describe('the SDK against the supergraph', () => {
  it('registers, signs in, refreshes and signs out', async () => {
    const { email, register, anonymous } = await sdkTenant();
    expect(register).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      requiresMfa: false,
      user: { email, name: 'SDK User' },
    });

    const { login } = await anonymous.request(LoginDocument, { input: { email, password: testPassword } });
    expect(login.user?.id).toBe(register.user?.id);
    const { refreshToken } = await anonymous.request(RefreshTokenDocument, { refreshToken: login.refreshToken! });
    expect(refreshToken.accessToken).toEqual(expect.any(String));
    expect((await anonymous.request(LogoutDocument, { refreshToken: refreshToken.refreshToken! })).logout).toBe(true);
    const reused = await anonymous.request(RefreshTokenDocument, { refreshToken: refreshToken.refreshToken! }).catch((e: unknown) => e);
    expect(reused).toBeInstanceOf(MindWeaveError);
    expect((reused as MindWeaveError).code).toBe('UNAUTHENTICATED');

    const wrong = await anonymous.request(LoginDocument, { input: { email, password: 'not the password' } }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'UNAUTHENTICATED', path: ['login'] });
  });

  it('reads the signed-in user with memberships, organizations and projects, and an organization', async () => {
    const tenant = await sdkTenant();
    const { me } = await tenant.user.request(MeDocument);
    expect(me).toMatchObject({
      email: tenant.email,
      memberships: [
        { role: 'OWNER', organization: { id: tenant.organization.id, projects: [{ id: tenant.project.id, name: 'SDK Project' }] } },
      ],
    });

    // An access token obtained some other way: the auth function is asked on every request.
    const tokens = [tenant.register.accessToken!];
    const viaFunction = client({ auth: async () => tokens[0]! });
    const { organization } = await viaFunction.request(OrganizationDocument, { id: tenant.organization.id });
    expect(organization).toMatchObject({
      id: tenant.organization.id,
      slug: tenant.organization.slug,
      projects: [{ id: tenant.project.id, apiKeys: [{ id: tenant.created.apiKey.id, revokedAt: null }] }],
    });

    // Another tenant's organization is a typed NOT_FOUND.
    const other = await sdkTenant();
    const refused = await tenant.user.request(OrganizationDocument, { id: other.organization.id }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'MindWeaveError', code: 'NOT_FOUND', path: ['organization'], status: expect.any(Number) });
  });

  it('records usage with an API key, reads the series, and stops the key once revoked', async () => {
    const tenant = await sdkTenant();
    const once = { ...event(), idempotencyKey: unique('once') };
    expect((await tenant.service.request(RecordUsageDocument, { input: once })).recordUsage).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: 0,
      violations: [],
    });
    expect((await tenant.service.request(RecordUsageBatchDocument, { inputs: [event(), event('gpt-4o'), once] })).recordUsageBatch).toEqual(
      { accepted: 2, duplicates: 1, rejected: 0, violations: [] },
    );

    const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const variables = { organizationId: tenant.organization.id, from, to, granularity: 'HOUR' as const };
    const requests = async () =>
      (await tenant.service.request(UsageSeriesDocument, variables)).usageSeries.reduce((n, p) => n + p.requests, 0);
    // Events reach the series through the analytics consumer, asynchronously.
    let recorded = await requests();
    for (const deadline = Date.now() + 10_000; recorded < 3 && Date.now() < deadline; recorded = await requests())
      await new Promise((r) => setTimeout(r, 200));
    expect(recorded).toBe(3);

    expect((await tenant.user.request(RevokeApiKeyDocument, { id: tenant.created.apiKey.id })).revokeApiKey).toMatchObject({
      id: tenant.created.apiKey.id,
      revokedAt: expect.any(String),
    });
    await expect(tenant.service.request(RecordUsageDocument, { input: event() })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('manages policies; a denied model comes back as a typed POLICY_VIOLATION', async () => {
    const tenant = await sdkTenant();
    const organizationId = tenant.organization.id;
    const { createPolicy } = await tenant.user.request(CreatePolicyDocument, {
      input: { organizationId, name: 'No 4o', type: 'MODEL_DENYLIST', rules: { models: ['gpt-4o'] } },
    });
    expect(createPolicy).toMatchObject({
      name: 'No 4o',
      type: 'MODEL_DENYLIST',
      rules: { models: ['gpt-4o'] },
      enabled: true,
      enforcing: true,
    });
    expect((await tenant.user.request(PoliciesDocument, { organizationId })).organization?.policies.map((p) => p.id)).toEqual([
      createPolicy.id,
    ]);

    await new Promise((r) => setTimeout(r, 1_000)); // the usage path follows policy changes within a second
    await expect(tenant.service.request(RecordUsageDocument, { input: event('gpt-4o') })).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      extensions: { policyName: 'No 4o' },
    });
    expect(
      (await tenant.user.request(UpdatePolicyDocument, { input: { id: createPolicy.id, enabled: false } })).updatePolicy,
    ).toMatchObject({ id: createPolicy.id, enabled: false });
    expect((await tenant.user.request(DeletePolicyDocument, { id: createPolicy.id })).deletePolicy.id).toBe(createPolicy.id);
  });

  it('registers an MCP server, publishes a version, and finds it anonymously', async () => {
    const tenant = await sdkTenant();
    const word = unique('sdkword').replace('-', '');
    const { registerMcpServer: server } = await tenant.user.request(RegisterMcpServerDocument, {
      input: {
        organizationId: tenant.organization.id,
        name: 'SDK tools',
        slug: unique('sdk-tools'),
        description: `Tools registered through the SDK ${word}`,
        visibility: 'PUBLIC',
      },
    });
    const tools = [
      { name: 'echo', description: 'Echoes its input', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
    ];
    const { publishMcpServerVersion } = await tenant.user.request(PublishMcpServerVersionDocument, {
      input: { serverId: server.id, version: '1.0.0', transport: 'STREAMABLE_HTTP', tools },
    });
    expect(publishMcpServerVersion).toMatchObject({ version: '1.0.0', transport: 'STREAMABLE_HTTP', deprecated: false, tools });

    const anonymous = client();
    expect((await anonymous.request(McpServerDocument, { slug: server.slug })).mcpServer).toMatchObject({
      id: server.id,
      publisher: { id: tenant.organization.id, name: 'SDK Org' },
      latestVersion: { version: '1.0.0' },
      versions: [{ version: '1.0.0' }],
    });
    const { mcpServers } = await anonymous.request(McpServersDocument, { search: word, first: 5 });
    expect(mcpServers).toMatchObject({
      totalCount: 1,
      pageInfo: { hasNextPage: false },
      edges: [{ node: { id: server.id, latestVersion: { tools: [{ name: 'echo' }] } } }],
    });
  });

  it('requests an export and reads its job', async () => {
    const tenant = await sdkTenant();
    const to = new Date().toISOString();
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const { requestExport: job } = await tenant.user.request(RequestExportDocument, {
      input: { organizationId: tenant.organization.id, type: 'USAGE', format: 'CSV', from, to },
    });
    expect(job).toMatchObject({
      id: expect.any(String),
      type: 'USAGE',
      format: 'CSV',
      from,
      to,
      status: expect.stringMatching(/^(QUEUED|RUNNING|SUCCEEDED)$/),
    });
    expect((await tenant.user.request(ExportJobDocument, { id: job.id })).exportJob).toMatchObject({ id: job.id, type: 'USAGE' });
    expect((await (await sdkTenant()).user.request(ExportJobDocument, { id: job.id })).exportJob).toBeNull();
  });

  it('manages webhook endpoints', async () => {
    const tenant = await sdkTenant();
    const input = {
      organizationId: tenant.organization.id,
      url: 'http://127.0.0.1:9/hooks',
      eventTypes: ['usage.recorded'],
      description: 'SDK test',
    };
    const { createWebhookEndpoint: created } = await tenant.user.request(CreateWebhookEndpointDocument, { input });
    expect(created).toMatchObject({
      secret: expect.stringMatching(/^whsec_/),
      endpoint: { url: input.url, eventTypes: input.eventTypes, enabled: true },
    });
    const { id } = created.endpoint;
    expect(
      (await tenant.user.request(WebhookEndpointsDocument, { organizationId: tenant.organization.id })).organization?.webhookEndpoints.map(
        (e) => e.id,
      ),
    ).toEqual([id]);
    expect((await tenant.user.request(WebhookEndpointDocument, { id, first: 5 })).webhookEndpoint).toMatchObject({
      id,
      deliveries: { edges: expect.any(Array), pageInfo: { hasNextPage: expect.any(Boolean) } },
    });
    expect((await tenant.user.request(EnableWebhookEndpointDocument, { id })).enableWebhookEndpoint).toMatchObject({
      id,
      enabled: true,
      consecutiveFailures: 0,
    });
    expect((await tenant.user.request(DeleteWebhookEndpointDocument, { id })).deleteWebhookEndpoint).toBe(true);
    await expect(tenant.user.request(WebhookEndpointDocument, { id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("runs a team's life: invites, accepts, changes a role, reads members and the audit log, rotates a key, removes, deletes", async () => {
    const tenant = await sdkTenant();
    const organizationId = tenant.organization.id;
    const email = `${unique('sdk-invitee')}@example.com`;
    const { inviteMember } = await tenant.user.request(InviteMemberDocument, { input: { organizationId, email, role: 'ADMIN' } });
    expect(inviteMember).toMatchObject({ email, role: 'ADMIN', status: 'PENDING' });
    const [mail] = await waitForMail(email, (m) => m.subject.startsWith('You are invited'));
    const token = linkIn(mail!, 'http://localhost:3000/invitations/accept').searchParams.get('token')!;
    const { register } = await tenant.anonymous.request(RegisterDocument, {
      input: { email, password: testPassword, name: 'SDK Invitee' },
    });
    const invitee = client({ auth: { accessToken: register.accessToken! } });
    expect((await invitee.request(AcceptInvitationDocument, { token })).acceptInvitation).toMatchObject({
      role: 'ADMIN',
      user: { email },
      organization: { id: organizationId },
    });
    const inviteeId = register.user!.id;

    expect(
      (await tenant.user.request(UpdateMemberRoleDocument, { input: { organizationId, userId: inviteeId, role: 'MEMBER' } }))
        .updateMemberRole.role,
    ).toBe('MEMBER');
    const { organization } = await tenant.user.request(OrganizationMembersDocument, { id: organizationId });
    expect(organization?.memberships.map((m) => [m.user.email, m.role])).toEqual([
      [tenant.email, 'OWNER'],
      [email, 'MEMBER'],
    ]);
    expect(
      (await tenant.user.request(OrganizationInvitationsDocument, { id: organizationId })).organization?.invitations.map((i) => i.status),
    ).toEqual(['ACCEPTED']);
    const later = (
      await tenant.user.request(InviteMemberDocument, {
        input: { organizationId, email: `${unique('later')}@example.com`, role: 'VIEWER' },
      })
    ).inviteMember;
    expect((await tenant.user.request(RevokeInvitationDocument, { id: later.id })).revokeInvitation.status).toBe('REVOKED');
    // A member is not shown the invitations: a typed FORBIDDEN.
    await expect(invitee.request(OrganizationInvitationsDocument, { id: organizationId })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const { rotateApiKey } = await tenant.user.request(RotateApiKeyDocument, { id: tenant.created.apiKey.id });
    expect(rotateApiKey).toMatchObject({
      key: expect.stringMatching(/^mw_sk_/),
      apiKey: { id: tenant.created.apiKey.id, previousKeyExpiresAt: expect.any(String) },
    });
    expect(
      (await tenant.user.request(UpdateOrganizationDocument, { input: { id: organizationId, name: 'SDK Team' } })).updateOrganization.name,
    ).toBe('SDK Team');
    expect((await tenant.user.request(RemoveMemberDocument, { organizationId, userId: inviteeId })).removeMember).toBe(true);
    const { organization: audited } = await tenant.user.request(OrganizationAuditLogDocument, { id: organizationId, first: 4 });
    expect(audited?.auditLog.edges.map((e) => e.node.action)).toEqual([
      'MEMBER_REMOVED',
      'ORGANIZATION_RENAMED',
      'API_KEY_ROTATED',
      'INVITATION_REVOKED',
    ]);
    expect(audited?.auditLog.pageInfo.hasNextPage).toBe(true);

    expect((await tenant.user.request(DeleteProjectDocument, { id: tenant.project.id })).deleteProject).toBe(true);
    await expect(client({ auth: { apiKey: rotateApiKey.key } }).request(RecordUsageDocument, { input: event() })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect((await tenant.user.request(DeleteOrganizationDocument, { id: organizationId })).deleteOrganization).toBe(true);
    await expect(tenant.user.request(OrganizationMembersDocument, { id: organizationId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('receives, over graphql-ws, a usage event recorded through the SDK', async () => {
    const tenant = await sdkTenant();
    const events: UsageUpdatedSubscription['usageUpdated'][] = [];
    const errors: Error[] = [];
    const unsubscribe = tenant.user.subscribe(
      UsageUpdatedDocument,
      { organizationId: tenant.organization.id },
      (data) => events.push(data.usageUpdated),
      (error) => errors.push(error),
    );
    await new Promise((r) => setTimeout(r, 500)); // the router registers a subscription asynchronously
    await tenant.service.request(RecordUsageDocument, { input: event() });
    expect(await waitFor(() => events.length === 1)).toBe(true);
    expect(events[0]).toMatchObject({
      model: 'gpt-4o-mini',
      inputTokens: 100,
      outputTokens: 50,
      organization: { id: tenant.organization.id, name: 'SDK Org' },
      project: { id: tenant.project.id },
    });
    unsubscribe();
    await tenant.service.request(RecordUsageDocument, { input: event() });
    await new Promise((r) => setTimeout(r, 500));
    expect(events).toHaveLength(1);
    expect(errors).toEqual([]);

    // Another tenant's organization: the subscription ends with a typed FORBIDDEN.
    const other = await sdkTenant();
    const refused: { error: Error; ended: boolean }[] = [];
    other.user.subscribe(
      UsageUpdatedDocument,
      { organizationId: tenant.organization.id },
      () => undefined,
      (error, ended) => refused.push({ error, ended }),
    );
    expect(await waitFor(() => refused.length === 1)).toBe(true);
    expect(refused[0]).toMatchObject({ error: { code: 'FORBIDDEN' }, ended: true });
  });

  it('sent every operation by its manifest hash, never with its text', () => {
    expect(sent.length).toBeGreaterThan(10);
    for (const body of sent) {
      expect(body['query'], JSON.stringify(body)).toBeUndefined();
      expect(body['extensions']).toEqual({ persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    }
  });
});

describe('the example script', () => {
  it('records usage with an API key and prints the live events of its organization', async () => {
    const tenant = await sdkTenant();
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'packages/sdk/examples/live-usage.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        MINDWEAVE_URL: stack.routerUrl,
        MINDWEAVE_API_KEY: tenant.created.key,
        MINDWEAVE_ORGANIZATION_ID: tenant.organization.id,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const live = await waitFor(() => output.includes('SDK Org / SDK Project  gpt-4o-mini'), 20_000);
    child.kill('SIGINT');
    expect(live, output).toBe(true);
    expect(await exited).toBe(0);
  });
});

describe('the SDK against a router in safelist mode', () => {
  let safelist: Awaited<ReturnType<typeof startExtraRouter>>;
  beforeAll(async () => {
    safelist = await startExtraRouter('router-sdk-safelist', { PERSISTED_QUERIES: 'safelist', PERSISTED_QUERIES_MANIFEST: manifestFile });
  });
  afterAll(() => safelist.stop());

  it('works with hashes only, while an ad-hoc query is refused with PERSISTED_QUERY_NOT_ALLOWED', async () => {
    const tenant = await sdkTenant(safelist.url);
    expect((await tenant.user.request(MeDocument)).me?.email).toBe(tenant.email);
    expect((await tenant.service.request(RecordUsageDocument, { input: event() })).recordUsage.accepted).toBe(1);

    const adHoc = await fetch(safelist.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.register.accessToken}` },
      body: JSON.stringify({ query: '{ me { id email } }' }),
    });
    const body = (await adHoc.json()) as { errors?: { extensions: { code: string } }[] };
    expect(body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');

    // A document that is not one of the SDK's goes with its text, and is refused the same way.
    const custom = parse('query Custom { me { id } }') as TypedDocumentNode<{ me: { id: string } | null }, Record<string, never>>;
    await expect(tenant.user.request(custom)).rejects.toMatchObject({ code: 'PERSISTED_QUERY_NOT_ALLOWED', status: 400 });
  });

  it('subscribes by hash as well, so that usageUpdated works there (a live dashboard on a locked-down router)', async () => {
    const tenant = await sdkTenant(safelist.url);
    const events: UsageUpdatedSubscription['usageUpdated'][] = [];
    const errors: Error[] = [];
    const unsubscribe = tenant.user.subscribe(
      UsageUpdatedDocument,
      { organizationId: tenant.organization.id },
      (data) => events.push(data.usageUpdated),
      (error) => errors.push(error),
    );
    // Recorded until the subscription is in place (the router registers it asynchronously).
    for (let i = 0; i < 20 && events.length === 0 && errors.length === 0; i++) {
      await tenant.service.request(RecordUsageDocument, { input: event('safelisted') });
      await waitFor(() => events.length > 0, 500);
    }
    unsubscribe();
    expect(errors).toEqual([]);
    expect(events[0]).toMatchObject({ model: 'safelisted', organization: { id: tenant.organization.id } });
  });
});

describe('subscriptions by hash against a router that does not know the hash', () => {
  it('are sent once more with their text (apq mode), as requests are', async () => {
    const tenant = await sdkTenant();
    // A subscription whose hash no manifest holds, as for a router older than the SDK.
    const text = 'subscription Unlisted($organizationId: ID!) { usageUpdated(organizationId: $organizationId) { id model } }';
    const unlisted = Object.assign(parse(text), {
      __meta__: { hash: createHash('sha256').update(text).digest('hex') },
    }) as unknown as TypedDocumentNode<{ usageUpdated: { id: string; model: string } }, { organizationId: string }>;
    const events: string[] = [];
    const errors: Error[] = [];
    const unsubscribe = tenant.user.subscribe(
      unlisted,
      { organizationId: tenant.organization.id },
      (data) => events.push(data.usageUpdated.model),
      (error) => errors.push(error),
    );
    for (let i = 0; i < 20 && events.length === 0 && errors.length === 0; i++) {
      await tenant.service.request(RecordUsageDocument, { input: event('unlisted') });
      await waitFor(() => events.length > 0, 500);
    }
    unsubscribe();
    expect(errors).toEqual([]);
    expect(events[0]).toBe('unlisted');
  });
});
