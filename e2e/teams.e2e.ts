import { afterAll, describe, expect, it, vi } from 'vitest';
import { createJobsConnection, createProducers, jobsPrefix } from '@mindweave/jobs';
import { createTenant, gql, registerUser, stack, testPassword, unique, type GraphQLResult } from './client.ts';
import { outboxLink, sql } from './db.ts';
import { linkIn, waitForMail } from './mail.ts';

// Teams through the router: invitations, roles, removal, organization and project lifecycle, key
// rotation and expiry, the audit trail. (Open connections cut off by these changes: access.e2e.ts.)

const connection = createJobsConnection(stack.redisUrl, 'producer', 'teams-e2e');
const producers = createProducers(connection, { prefix: jobsPrefix(stack.env['REDIS_KEY_PREFIX'] ?? '') });
afterAll(async () => {
  await producers.close();
  connection.disconnect();
});

const ops = {
  invite:
    'mutation ($input: InviteMemberInput!) { inviteMember(input: $input) { id email role status expiresAt acceptedAt revokedAt invitedBy { id } } }',
  accept: 'mutation ($token: String!) { acceptInvitation(token: $token) { role organization { id } user { id email name } } }',
  revokeInvitation: 'mutation ($id: ID!) { revokeInvitation(id: $id) { id status revokedAt } }',
  invitations: 'query ($id: ID!) { organization(id: $id) { invitations { id email role status } } }',
  add: 'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }',
  setRole: 'mutation ($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { role user { id } } }',
  remove: 'mutation ($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }',
  members: 'query ($id: ID!) { organization(id: $id) { memberships { role user { id email name } } } }',
  organization: 'query ($id: ID!) { organization(id: $id) { id name } }',
  rename: 'mutation ($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { id name slug } }',
  deleteOrganization: 'mutation ($id: ID!) { deleteOrganization(id: $id) }',
  deleteProject: 'mutation ($id: ID!) { deleteProject(id: $id) }',
  createProject: 'mutation ($input: CreateProjectInput!) { createProject(input: $input) { id } }',
  createKey: 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id expiresAt } } }',
  rotateKey: 'mutation ($id: ID!) { rotateApiKey(id: $id) { key apiKey { id prefix rotatedAt previousKeyExpiresAt } } }',
  revokeKey: 'mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }',
  auditLog:
    'query ($id: ID!, $first: Int, $after: String) { organization(id: $id) { auditLog(first: $first, after: $after) { edges { cursor node { action actor { id } targetUser { id } targetId details } } pageInfo { hasNextPage endCursor } } } }',
  record: 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
};

const codeOf = (result: GraphQLResult) => result.errors?.[0]?.extensions.code;
type Tenant = Awaited<ReturnType<typeof createTenant>>;

/** A new user added to the tenant's organization with `role` by its owner. */
async function memberOf(tenant: Tenant, role: 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER') {
  const user = await registerUser(`A ${role.toLowerCase()}`);
  const added = await gql(
    ops.add,
    { input: { organizationId: tenant.organizationId, userId: user.userId, role } },
    { token: tenant.user.accessToken },
  );
  expect(added.errors).toBeUndefined();
  return user;
}

const setRole = (tenant: Tenant, token: string, userId: string, role: string) =>
  gql(ops.setRole, { input: { organizationId: tenant.organizationId, userId, role } }, { token });
const remove = (tenant: Tenant, token: string, userId: string) => gql(ops.remove, { org: tenant.organizationId, user: userId }, { token });
const usable = async (apiKey: string) => (await gql('{ me { id } }', {}, { token: apiKey })).status === 200;

/** The token of the invitation emailed to `email`, as its recipient reads it. */
async function invitationToken(email: string) {
  const [mail] = await waitForMail(email, (m) => m.subject.startsWith('You are invited'));
  return linkIn(mail!, 'http://localhost:3000/invitations/accept').searchParams.get('token')!;
}

describe('invitations', () => {
  it('emails a link; someone new registers with that email, accepts, and is a member; the token works once', async () => {
    const tenant = await createTenant();
    const email = `${unique('invitee')}@example.com`;
    const invited = await gql(
      ops.invite,
      { input: { organizationId: tenant.organizationId, email: email.toUpperCase(), role: 'MEMBER' } },
      { token: tenant.user.accessToken },
    );
    expect(invited.errors).toBeUndefined();
    expect(invited.data!.inviteMember).toMatchObject({
      email,
      role: 'MEMBER',
      status: 'PENDING',
      acceptedAt: null,
      revokedAt: null,
      invitedBy: { id: tenant.user.userId },
    });
    const expiresIn = Date.parse(invited.data!.inviteMember.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(7 * 86_400_000);

    const [mail] = await waitForMail(email, (m) => m.subject === 'You are invited to join Tenant on MindWeave');
    expect(mail!.text).toContain('Test User invited you to join Tenant as member.');
    const token = linkIn(mail!, 'http://localhost:3000/invitations/accept').searchParams.get('token')!;
    // Only its hash is kept.
    expect(await sql('SELECT 1 FROM accounts.invitations WHERE "tokenHash" = $1', [token])).toEqual([]);

    const invitee = await registerUser('Invitee', email);
    const accepted = await gql(ops.accept, { token }, { token: invitee.accessToken });
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data!.acceptInvitation).toEqual({
      role: 'MEMBER',
      organization: { id: tenant.organizationId },
      user: { id: invitee.userId, email, name: 'Invitee' },
    });
    expect((await gql(ops.organization, { id: tenant.organizationId }, { token: invitee.accessToken })).data).toEqual({
      organization: { id: tenant.organizationId, name: 'Tenant' },
    });

    const again = await gql(ops.accept, { token }, { token: invitee.accessToken });
    expect(codeOf(again)).toBe('BAD_USER_INPUT');
    const listed = await gql(ops.invitations, { id: tenant.organizationId }, { token: tenant.user.accessToken });
    expect(listed.data!.organization.invitations).toEqual([
      { id: invited.data!.inviteMember.id, email, role: 'MEMBER', status: 'ACCEPTED' },
    ]);
  });

  it('refuses another user, an expired token, a revoked one and a made-up one', async () => {
    const tenant = await createTenant();
    const email = `${unique('invitee')}@example.com`;
    const invited = await gql(
      ops.invite,
      { input: { organizationId: tenant.organizationId, email, role: 'ADMIN' } },
      { token: tenant.user.accessToken },
    );
    const token = await invitationToken(email);
    const invitee = await registerUser('Invitee', email);

    // Someone else holding the link: refused, and the invitation is not spent.
    const stranger = await registerUser('Stranger');
    expect(codeOf(await gql(ops.accept, { token }, { token: stranger.accessToken }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(ops.accept, { token }))).toBe('UNAUTHENTICATED');

    // Expired (7 days passed): refused even to the right user.
    await sql(`UPDATE accounts.invitations SET "expiresAt" = now() - interval '1 second' WHERE id = $1`, [invited.data!.inviteMember.id]);
    expect(codeOf(await gql(ops.accept, { token }, { token: invitee.accessToken }))).toBe('BAD_USER_INPUT');
    expect(
      (await gql(ops.invitations, { id: tenant.organizationId }, { token: tenant.user.accessToken })).data!.organization.invitations[0]
        .status,
    ).toBe('EXPIRED');

    // Expired, so another may be sent; that one revoked: its link stops working.
    const second = await gql(
      ops.invite,
      { input: { organizationId: tenant.organizationId, email, role: 'VIEWER' } },
      { token: tenant.user.accessToken },
    );
    expect(second.errors).toBeUndefined();
    const secondToken = linkIn(
      (await waitForMail(email, (m) => m.subject.startsWith('You are invited'), { count: 2 }))[1]!,
      'http://localhost:3000/invitations/accept',
    ).searchParams.get('token')!;
    const revoked = await gql(ops.revokeInvitation, { id: second.data!.inviteMember.id }, { token: tenant.user.accessToken });
    expect(revoked.data!.revokeInvitation).toMatchObject({ status: 'REVOKED', revokedAt: expect.any(String) });
    expect(codeOf(await gql(ops.accept, { token: secondToken }, { token: invitee.accessToken }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(ops.accept, { token: 'mw_inv_made-up' }, { token: invitee.accessToken }))).toBe('BAD_USER_INPUT');
    expect((await gql(ops.organization, { id: tenant.organizationId }, { token: invitee.accessToken })).errors?.[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );
  });

  it('lets owners and admins invite, only an owner invite an owner, one pending invitation per email, and shows invitations to them only', async () => {
    const tenant = await createTenant();
    const admin = await memberOf(tenant, 'ADMIN');
    const member = await memberOf(tenant, 'MEMBER');
    const input = (role: string, email = `${unique('x')}@example.com`) => ({
      input: { organizationId: tenant.organizationId, email, role },
    });

    expect(codeOf(await gql(ops.invite, input('VIEWER'), { token: member.accessToken }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(ops.invite, input('OWNER'), { token: admin.accessToken }))).toBe('FORBIDDEN');
    const byAdmin = await gql(ops.invite, input('ADMIN'), { token: admin.accessToken });
    expect(byAdmin.errors).toBeUndefined();
    expect(codeOf(await gql(ops.invite, input('MEMBER', byAdmin.data!.inviteMember.email), { token: tenant.user.accessToken }))).toBe(
      'CONFLICT',
    );
    const ownerInvite = await gql(ops.invite, input('OWNER'), { token: tenant.user.accessToken });
    expect(ownerInvite.errors).toBeUndefined();
    // An admin cannot undo what only an owner may do.
    expect(codeOf(await gql(ops.revokeInvitation, { id: ownerInvite.data!.inviteMember.id }, { token: admin.accessToken }))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await gql(ops.invite, input('MEMBER', 'not an email'), { token: tenant.user.accessToken }))).toBe('BAD_USER_INPUT');
    // Another tenant's organization looks like none at all.
    const other = await createTenant();
    expect(
      codeOf(
        await gql(
          ops.invite,
          { input: { organizationId: other.organizationId, email: 'a@example.com', role: 'MEMBER' } },
          { token: admin.accessToken },
        ),
      ),
    ).toBe('NOT_FOUND');

    expect(
      (await gql(ops.invitations, { id: tenant.organizationId }, { token: admin.accessToken })).data!.organization.invitations,
    ).toHaveLength(2);
    expect(codeOf(await gql(ops.invitations, { id: tenant.organizationId }, { token: member.accessToken }))).toBe('FORBIDDEN');
  });
});

describe('roles and removal', () => {
  it('keeps at least one owner', async () => {
    const tenant = await createTenant();
    const owner = tenant.user;
    expect(codeOf(await setRole(tenant, owner.accessToken, owner.userId, 'ADMIN'))).toBe('CONFLICT');
    expect(codeOf(await remove(tenant, owner.accessToken, owner.userId))).toBe('CONFLICT');
    const second = await memberOf(tenant, 'OWNER');
    // Two owners removing each other at once: one of them stays.
    const [a, b] = await Promise.all([remove(tenant, owner.accessToken, second.userId), remove(tenant, second.accessToken, owner.userId)]);
    expect([a, b].filter((result) => result.data?.removeMember === true)).toHaveLength(1);
    const members = await sql<{ role: string }>(`SELECT role FROM accounts.memberships WHERE "organizationId" = $1`, [
      tenant.organizationId,
    ]);
    expect(members).toEqual([{ role: 'OWNER' }]);
  });

  it('never lets an admin touch an owner, nor anyone give a role above their own', async () => {
    const tenant = await createTenant();
    const admin = await memberOf(tenant, 'ADMIN');
    const member = await memberOf(tenant, 'MEMBER');
    const viewer = await memberOf(tenant, 'VIEWER');
    expect(codeOf(await setRole(tenant, admin.accessToken, tenant.user.userId, 'MEMBER'))).toBe('FORBIDDEN');
    expect(codeOf(await remove(tenant, admin.accessToken, tenant.user.userId))).toBe('FORBIDDEN');
    expect(codeOf(await setRole(tenant, admin.accessToken, member.userId, 'OWNER'))).toBe('FORBIDDEN');
    expect(codeOf(await setRole(tenant, admin.accessToken, admin.userId, 'OWNER'))).toBe('FORBIDDEN');
    expect(codeOf(await setRole(tenant, member.accessToken, viewer.userId, 'MEMBER'))).toBe('FORBIDDEN');
    expect(codeOf(await remove(tenant, member.accessToken, viewer.userId))).toBe('FORBIDDEN');
    expect(codeOf(await setRole(tenant, admin.accessToken, '00000000-0000-4000-8000-000000000000', 'VIEWER'))).toBe('NOT_FOUND');

    expect((await setRole(tenant, admin.accessToken, member.userId, 'ADMIN')).data).toEqual({
      updateMemberRole: { role: 'ADMIN', user: { id: member.userId } },
    });
    expect((await setRole(tenant, tenant.user.accessToken, admin.userId, 'VIEWER')).data!.updateMemberRole.role).toBe('VIEWER');
    expect((await remove(tenant, member.accessToken, viewer.userId)).data).toEqual({ removeMember: true });
    const members = await gql(ops.members, { id: tenant.organizationId }, { token: tenant.user.accessToken });
    expect(members.data!.organization.memberships.map((m: { role: string; user: { id: string } }) => [m.user.id, m.role])).toEqual([
      [tenant.user.userId, 'OWNER'],
      [admin.userId, 'VIEWER'],
      [member.userId, 'ADMIN'],
    ]);
    // Membership.user is the identity subgraph's user.
    expect(members.data!.organization.memberships[0].user).toEqual({ id: tenant.user.userId, email: tenant.user.email, name: 'Test User' });
  });

  it('lets a member leave, and a removed member loses the organization at once', async () => {
    const tenant = await createTenant();
    const leaving = await memberOf(tenant, 'MEMBER');
    const removed = await memberOf(tenant, 'ADMIN');
    expect((await remove(tenant, leaving.accessToken, leaving.userId)).data).toEqual({ removeMember: true });
    expect((await remove(tenant, tenant.user.accessToken, removed.userId)).data).toEqual({ removeMember: true });
    for (const user of [leaving, removed]) {
      expect(codeOf(await gql(ops.organization, { id: tenant.organizationId }, { token: user.accessToken }))).toBe('NOT_FOUND');
      expect((await gql('{ me { memberships { organization { id } } } }', {}, { token: user.accessToken })).data).toEqual({
        me: { memberships: [] },
      });
    }
    expect(codeOf(await remove(tenant, tenant.user.accessToken, removed.userId))).toBe('NOT_FOUND');
  });
});

describe('organizations and projects', () => {
  it('renames an organization for its owners and admins', async () => {
    const tenant = await createTenant();
    const admin = await memberOf(tenant, 'ADMIN');
    const member = await memberOf(tenant, 'MEMBER');
    const renamed = await gql(ops.rename, { input: { id: tenant.organizationId, name: '  Renamed  ' } }, { token: admin.accessToken });
    expect(renamed.data!.updateOrganization).toMatchObject({ id: tenant.organizationId, name: 'Renamed' });
    expect(codeOf(await gql(ops.rename, { input: { id: tenant.organizationId, name: 'Mine' } }, { token: member.accessToken }))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await gql(ops.rename, { input: { id: tenant.organizationId, name: '' } }, { token: admin.accessToken }))).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('deletes an organization for everyone: gone, its keys refused at once, its webhooks stopped, its slug kept', async () => {
    const tenant = await createTenant();
    const admin = await memberOf(tenant, 'ADMIN');
    const hook = await gql(
      'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }',
      { input: { organizationId: tenant.organizationId, url: 'http://127.0.0.1:9/hook', eventTypes: ['usage.recorded'] } },
      { token: tenant.user.accessToken },
    );
    const endpointId = hook.data!.createWebhookEndpoint.endpoint.id as string;
    // The key is in use, so the router holds it in its caches.
    expect(await usable(tenant.apiKey)).toBe(true);

    expect(codeOf(await gql(ops.deleteOrganization, { id: tenant.organizationId }, { token: admin.accessToken }))).toBe('FORBIDDEN');
    expect((await gql(ops.deleteOrganization, { id: tenant.organizationId }, { token: tenant.user.accessToken })).data).toEqual({
      deleteOrganization: true,
    });

    const refused = await gql(
      ops.record,
      { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } },
      { token: tenant.apiKey },
    );
    expect(refused.status).toBe(401);
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    for (const user of [tenant.user, admin]) {
      expect(codeOf(await gql(ops.organization, { id: tenant.organizationId }, { token: user.accessToken }))).toBe('NOT_FOUND');
      expect((await gql('{ me { memberships { role } } }', {}, { token: user.accessToken })).data).toEqual({ me: { memberships: [] } });
    }
    expect(codeOf(await gql(ops.deleteOrganization, { id: tenant.organizationId }, { token: tenant.user.accessToken }))).toBe('NOT_FOUND');
    const [slug] = await sql<{ slug: string }>('SELECT slug FROM accounts.organizations WHERE id = $1', [tenant.organizationId]);
    expect(
      codeOf(
        await gql(
          'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
          { input: { name: 'Again', slug: slug!.slug } },
          { token: tenant.user.accessToken },
        ),
      ),
    ).toBe('CONFLICT');
    await vi.waitFor(
      async () =>
        expect(await sql('SELECT enabled, "disabledReason" FROM webhooks.webhook_endpoints WHERE id = $1', [endpointId])).toEqual([
          { enabled: false, disabledReason: 'the organization was deleted' },
        ]),
      { timeout: 10_000, interval: 100 },
    );
  });

  it("keeps a deleted organization's usage data for the retention period, then the daily job removes it", async () => {
    const [gone, kept] = await Promise.all([createTenant(), createTenant()]);
    for (const tenant of [gone, kept])
      await gql(ops.record, { input: { model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 5, latencyMs: 1 } }, { token: tenant.apiKey });
    const rows = (organizationId: string) =>
      sql<{ events: number; minutes: number }>(
        `SELECT (SELECT count(*)::int FROM analytics.usage_events WHERE "organizationId" = $1) AS events, (SELECT count(*)::int FROM analytics.usage_minutes WHERE "organizationId" = $1) AS minutes`,
        [organizationId],
      );
    for (const tenant of [gone, kept])
      await vi.waitFor(async () => expect(await rows(tenant.organizationId)).toEqual([{ events: 1, minutes: 1 }]), {
        timeout: 15_000,
        interval: 100,
      });
    expect((await gql(ops.deleteOrganization, { id: gone.organizationId }, { token: gone.user.accessToken })).data).toEqual({
      deleteOrganization: true,
    });

    const run = async (retentionDays: number) => {
      const job = await producers.add('analytics', 'organization-purge', { retentionDays });
      await vi.waitFor(async () => expect(await producers.queues.analytics.getJobState(job.id!)).toBe('completed'), {
        timeout: 15_000,
        interval: 100,
      });
      return (await producers.queues.analytics.getJob(job.id!))!.returnvalue as { purged: string[] };
    };
    // Deleted just now: within any retention period, kept.
    expect((await run(1)).purged).not.toContain(gone.organizationId);
    expect(await rows(gone.organizationId)).toEqual([{ events: 1, minutes: 1 }]);
    expect((await run(0)).purged).toContain(gone.organizationId);
    expect(await rows(gone.organizationId)).toEqual([{ events: 0, minutes: 0 }]);
    expect(await rows(kept.organizationId)).toEqual([{ events: 1, minutes: 1 }]);
    expect(
      await sql('SELECT "usagePurgedAt" IS NOT NULL AS purged FROM accounts.organizations WHERE id = $1', [gone.organizationId]),
    ).toEqual([{ purged: true }]);
    // Purged once: the next run has nothing of it left to do.
    expect((await run(0)).purged).not.toContain(gone.organizationId);
  });

  it("deletes a project for owners and admins: gone from the organization, its keys refused at once, the others' kept", async () => {
    const tenant = await createTenant();
    const member = await memberOf(tenant, 'MEMBER');
    const other = (
      await gql(ops.createProject, { input: { organizationId: tenant.organizationId, name: 'Other' } }, { token: tenant.user.accessToken })
    ).data!.createProject.id as string;
    const otherKey = (
      await gql(ops.createKey, { input: { projectId: other, name: 'k', scopes: ['usage:write'] } }, { token: tenant.user.accessToken })
    ).data!.createApiKey.key as string;
    expect(await usable(tenant.apiKey)).toBe(true);

    expect(codeOf(await gql(ops.deleteProject, { id: tenant.projectId }, { token: member.accessToken }))).toBe('FORBIDDEN');
    expect((await gql(ops.deleteProject, { id: tenant.projectId }, { token: tenant.user.accessToken })).data).toEqual({
      deleteProject: true,
    });
    expect(await usable(tenant.apiKey)).toBe(false);
    expect(await usable(otherKey)).toBe(true);
    const projects = await gql(
      'query ($id: ID!) { organization(id: $id) { projects { id } } }',
      { id: tenant.organizationId },
      { token: tenant.user.accessToken },
    );
    expect(projects.data).toEqual({ organization: { projects: [{ id: other }] } });
    expect(codeOf(await gql(ops.deleteProject, { id: tenant.projectId }, { token: tenant.user.accessToken }))).toBe('NOT_FOUND');
    expect(
      codeOf(
        await gql(ops.createKey, { input: { projectId: tenant.projectId, name: 'late', scopes: [] } }, { token: tenant.user.accessToken }),
      ),
    ).toBe('NOT_FOUND');
  });
});

describe('API keys', () => {
  it('rotates a key: the new secret works at once, the old one through the grace period and not after', async () => {
    const tenant = await createTenant();
    expect(await usable(tenant.apiKey)).toBe(true);
    const rotated = await gql(ops.rotateKey, { id: tenant.apiKeyId }, { token: tenant.user.accessToken });
    expect(rotated.errors).toBeUndefined();
    const { key, apiKey } = rotated.data!.rotateApiKey;
    expect(key).toMatch(/^mw_sk_/);
    expect(key).not.toBe(tenant.apiKey);
    expect(apiKey).toMatchObject({ id: tenant.apiKeyId, prefix: key.slice(0, 12), rotatedAt: expect.any(String) });
    // The test stack's grace period is 4 s (API_KEY_ROTATION_GRACE_SECONDS; 24 h by default).
    const graceEnds = Date.parse(apiKey.previousKeyExpiresAt);
    expect(graceEnds - Date.parse(apiKey.rotatedAt)).toBe(4_000);
    expect(await usable(key)).toBe(true);
    expect(await usable(tenant.apiKey)).toBe(true);
    // The usage recorded with either secret is the key's.
    expect(
      (await gql(ops.record, { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } }, { token: tenant.apiKey }))
        .data,
    ).toEqual({ recordUsage: { accepted: 1 } });

    await new Promise((r) => setTimeout(r, Math.max(0, graceEnds - Date.now() + 100)));
    // Refused on time, although the router cached it as valid a moment ago.
    const late = await gql('{ me { id } }', {}, { token: tenant.apiKey });
    expect([late.status, codeOf(late)]).toEqual([401, 'UNAUTHENTICATED']);
    expect(await usable(key)).toBe(true);

    // Rotating again ends the previous secret's grace at once; a revoked key cannot be rotated.
    const again = (await gql(ops.rotateKey, { id: tenant.apiKeyId }, { token: tenant.user.accessToken })).data!.rotateApiKey.key as string;
    expect(await usable(again)).toBe(true);
    expect(await usable(key)).toBe(true);
    const third = (await gql(ops.rotateKey, { id: tenant.apiKeyId }, { token: tenant.user.accessToken })).data!.rotateApiKey.key as string;
    expect(await usable(key)).toBe(false);
    expect(await usable(again)).toBe(true);
    await gql(ops.revokeKey, { id: tenant.apiKeyId }, { token: tenant.user.accessToken });
    expect(await usable(third)).toBe(false);
    expect(await usable(again)).toBe(false);
    expect(codeOf(await gql(ops.rotateKey, { id: tenant.apiKeyId }, { token: tenant.user.accessToken }))).toBe('CONFLICT');
  });

  it('honours an expiry given at creation, and refuses one in the past', async () => {
    const tenant = await createTenant();
    const expiresAt = new Date(Date.now() + 2_500).toISOString();
    const created = await gql(
      ops.createKey,
      { input: { projectId: tenant.projectId, name: 'short-lived', scopes: ['usage:read'], expiresAt } },
      { token: tenant.user.accessToken },
    );
    expect(created.data!.createApiKey.apiKey.expiresAt).toBe(expiresAt);
    const key = created.data!.createApiKey.key as string;
    expect(await usable(key)).toBe(true);
    await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 100));
    expect(await usable(key)).toBe(false);
    expect(codeOf(await gql(ops.rotateKey, { id: created.data!.createApiKey.apiKey.id }, { token: tenant.user.accessToken }))).toBe(
      'CONFLICT',
    );
    const past = await gql(
      ops.createKey,
      { input: { projectId: tenant.projectId, name: 'past', scopes: [], expiresAt: new Date(Date.now() - 1_000).toISOString() } },
      { token: tenant.user.accessToken },
    );
    expect(past.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.expiresAt' });
  });
});

describe('the audit trail', () => {
  it('records who did what, newest first, paginated, for owners and admins only', async () => {
    const tenant = await createTenant();
    const owner = tenant.user.accessToken;
    const email = `${unique('audited')}@example.com`;
    await gql(ops.invite, { input: { organizationId: tenant.organizationId, email, role: 'VIEWER' } }, { token: owner });
    const invitee = await registerUser('Invitee', email);
    await gql(ops.accept, { token: await invitationToken(email) }, { token: invitee.accessToken });
    const admin = await memberOf(tenant, 'ADMIN');
    await setRole(tenant, admin.accessToken, invitee.userId, 'MEMBER');
    await gql(ops.rotateKey, { id: tenant.apiKeyId }, { token: admin.accessToken });
    await gql(ops.revokeKey, { id: tenant.apiKeyId }, { token: owner });
    await remove(tenant, admin.accessToken, invitee.userId);

    const page = (token: string, first: number, after?: string) =>
      gql(ops.auditLog, { id: tenant.organizationId, first, after }, { token });
    const first = await page(admin.accessToken, 3);
    const log = first.data!.organization.auditLog;
    expect(log.pageInfo.hasNextPage).toBe(true);
    expect(log.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      {
        action: 'MEMBER_REMOVED',
        actor: { id: admin.userId },
        targetUser: { id: invitee.userId },
        targetId: null,
        details: { role: 'MEMBER' },
      },
      {
        action: 'API_KEY_REVOKED',
        actor: { id: tenant.user.userId },
        targetUser: null,
        targetId: tenant.apiKeyId,
        details: expect.objectContaining({ name: 'key' }),
      },
      {
        action: 'API_KEY_ROTATED',
        actor: { id: admin.userId },
        targetUser: null,
        targetId: tenant.apiKeyId,
        details: expect.objectContaining({ previousKeyExpiresAt: expect.any(String) }),
      },
    ]);
    const rest = await page(owner, 20, log.pageInfo.endCursor);
    expect(rest.data!.organization.auditLog.pageInfo.hasNextPage).toBe(false);
    expect(rest.data!.organization.auditLog.edges.map((edge: { node: { action: string } }) => edge.node.action)).toEqual([
      'MEMBER_ROLE_CHANGED',
      'MEMBER_ADDED',
      'INVITATION_ACCEPTED',
      'MEMBER_INVITED',
      'API_KEY_CREATED',
      'PROJECT_CREATED',
      'ORGANIZATION_CREATED',
    ]);
    const roleChange = rest.data!.organization.auditLog.edges[0].node;
    expect(roleChange).toMatchObject({
      actor: { id: admin.userId },
      targetUser: { id: invitee.userId },
      details: { from: 'VIEWER', to: 'MEMBER' },
    });
    expect(rest.data!.organization.auditLog.edges[3].node).toMatchObject({
      actor: { id: tenant.user.userId },
      details: { email, role: 'VIEWER' },
    });

    const member = await memberOf(tenant, 'MEMBER');
    expect(codeOf(await page(member.accessToken, 5))).toBe('FORBIDDEN');
    expect(codeOf(await page(owner, 5, 'not-a-cursor'))).toBe('BAD_USER_INPUT');
  });
});

describe('sessions', () => {
  it("logout ends that session's access tokens, and only that session's", async () => {
    const user = await registerUser();
    const login = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }';
    const other = (await gql(login, { input: { email: user.email, password: testPassword } })).data!.login;
    expect((await gql('mutation ($t: String!) { logout(refreshToken: $t) }', { t: user.refreshToken })).data).toEqual({ logout: true });
    // Every router hears of it within a moment (the session_ended event): poll, then hold.
    await vi.waitFor(async () => expect(codeOf(await gql('{ me { id } }', {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED'), {
      timeout: 5_000,
      interval: 100,
    });
    expect((await gql('{ me { id } }', {}, { token: other.accessToken })).data).toEqual({ me: { id: user.userId } });
  });

  it('a password reset ends the access tokens of every session', async () => {
    const user = await registerUser();
    const login = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }';
    const other = (await gql(login, { input: { email: user.email, password: testPassword } })).data!.login.accessToken as string;
    await gql('mutation ($e: String!) { requestPasswordReset(email: $e) }', { e: user.email });
    const token = await outboxLink('user.password_reset', user.userId, 'resetUrl');
    expect(
      (
        await gql('mutation ($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }', {
          t: token,
          p: 'another long password',
        })
      ).data,
    ).toEqual({ resetPassword: true });
    for (const accessToken of [user.accessToken, other]) {
      await vi.waitFor(async () => expect(codeOf(await gql('{ me { id } }', {}, { token: accessToken }))).toBe('UNAUTHENTICATED'), {
        timeout: 5_000,
        interval: 100,
      });
    }
    // A sign-in after the reset is a new session.
    const fresh = (await gql(login, { input: { email: user.email, password: 'another long password' } })).data!.login.accessToken as string;
    expect((await gql('{ me { id } }', {}, { token: fresh })).data).toEqual({ me: { id: user.userId } });
  });
});
