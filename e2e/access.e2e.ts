import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, gql, registerUser, testPassword } from './client.ts';
import { startExtraRouter } from './extra-router.ts';
import { closeCode, waitFor, watch, wsClients } from './ws.ts';

// Every change to access is felt at once by open connections: a router instance that looks keys
// and memberships up again only every 10 minutes, so that what happens within seconds here is the
// doing of the access events (router/access-events.ts), not of its periodic re-check.

let router: Awaited<ReturnType<typeof startExtraRouter>>;
const ws = wsClients();
beforeAll(async () => {
  router = await startExtraRouter('router-access', { SUBSCRIPTION_KEY_RECHECK_SECONDS: '600' });
});
afterAll(async () => {
  await ws.disposeAll();
  await router.stop();
});

const connect = (authorization: string) => ws.connect(authorization, router.url);
const usageUpdated = 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id organization { name } } }';
const record = (apiKey: string) =>
  gql(
    'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }',
    { input: { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1, latencyMs: 1 } },
    { token: apiKey },
  );
type Watched = ReturnType<typeof watch>;

/** Records events until each of `watching` has one more than it had: they are all subscribed and delivering. */
async function delivering(apiKey: string, ...watching: Watched[]) {
  const before = watching.map((w) => w.results.length);
  for (let i = 0; i < 40 && !watching.every((w, j) => w.results.length > before[j]!); i++) {
    await record(apiKey);
    await waitFor(() => watching.every((w, j) => w.results.length > before[j]!), 250);
  }
  expect(watching.map((w, j) => w.results.length > before[j]!)).toEqual(watching.map(() => true));
}

/** How long after `since` the subscription's connection closed, and with what code. */
async function closedWithin(watched: Watched, since: number, timeoutMs = 5_000) {
  await Promise.race([watched.done, new Promise((r) => setTimeout(r, timeoutMs + 1_000))]);
  return { code: closeCode(watched), ms: Date.now() - since };
}

async function member(tenant: Awaited<ReturnType<typeof createTenant>>, role: string, name = 'Member') {
  const user = await registerUser(name);
  expect(
    (
      await gql(
        'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }',
        { input: { organizationId: tenant.organizationId, userId: user.userId, role } },
        { token: tenant.user.accessToken },
      )
    ).errors,
  ).toBeUndefined();
  return user;
}

describe('open connections lose what they lost the right to, within 5 seconds', () => {
  it("cuts off a removed member's subscription with 4403, and the group it shared resolves for the others", async () => {
    const tenant = await createTenant();
    const [removed, stays] = [await member(tenant, 'MEMBER', 'Removed'), await member(tenant, 'MEMBER', 'Stays')];
    // Same organization, role and selection: one group, resolved as its first subscriber, the one removed.
    const first = watch(connect(`Bearer ${removed.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await delivering(tenant.apiKey, first);
    const second = watch(connect(`Bearer ${stays.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await delivering(tenant.apiKey, first, second);

    const removedAt = Date.now();
    expect(
      (
        await gql(
          'mutation ($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }',
          { org: tenant.organizationId, user: removed.userId },
          { token: tenant.user.accessToken },
        )
      ).data,
    ).toEqual({ removeMember: true });
    const cut = await closedWithin(first, removedAt);
    expect(cut.code).toBe(4403);
    expect(cut.ms).toBeLessThan(5_000);

    const delivered = first.results.length;
    await delivering(tenant.apiKey, second);
    expect(first.results).toHaveLength(delivered);
    expect(second.results.at(-1)).toEqual({ data: { usageUpdated: { id: expect.any(String), organization: { name: 'Tenant' } } } });
    // Coming back (as a graphql-ws client does after 4403), the subscription is refused.
    const again = watch(connect(`Bearer ${removed.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await again.done;
    expect(JSON.stringify(again.errors)).toContain('FORBIDDEN');
  });

  it('moves a subscription whose member changed role: a demoted admin no longer gets what only admins see, though an admin shares its group', async () => {
    const tenant = await createTenant();
    const [stays, demoted] = [await member(tenant, 'ADMIN', 'Stays'), await member(tenant, 'ADMIN', 'Demoted')];
    const hook = await gql(
      'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }',
      { input: { organizationId: tenant.organizationId, url: 'http://127.0.0.1:9/admins-only', eventTypes: ['usage.recorded'] } },
      { token: tenant.user.accessToken },
    );
    expect(hook.errors).toBeUndefined();
    // Two admins, one selection: one group, resolved as its first subscriber, the admin who stays.
    const selection = 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id organization { webhookEndpoints { url } } } }';
    const first = watch(connect(`Bearer ${stays.accessToken}`), selection, { org: tenant.organizationId });
    await delivering(tenant.apiKey, first);
    const sub = watch(connect(`Bearer ${demoted.accessToken}`), selection, { org: tenant.organizationId });
    await delivering(tenant.apiKey, first, sub);
    expect(sub.results.at(-1)!.data.usageUpdated.organization.webhookEndpoints).toEqual([{ url: 'http://127.0.0.1:9/admins-only' }]);

    const changedAt = Date.now();
    await gql(
      'mutation ($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { role } }',
      { input: { organizationId: tenant.organizationId, userId: demoted.userId, role: 'MEMBER' } },
      { token: tenant.user.accessToken },
    );
    // Still a member: the subscription stays, and within seconds resolves apart, as a member.
    let shown = true;
    while (shown && Date.now() - changedAt < 5_000) {
      await delivering(tenant.apiKey, sub);
      shown = JSON.stringify(sub.results.at(-1)).includes('admins-only');
    }
    expect(shown).toBe(false);
    expect(sub.results.at(-1)!.errors?.[0]?.extensions?.code).toMatch(/FORBIDDEN|NOT_FOUND/);
    expect(sub.errors).toEqual([]);
    // The admin who stays still sees what admins see.
    await delivering(tenant.apiKey, first);
    expect(first.results.at(-1)!.data.usageUpdated.organization.webhookEndpoints).toEqual([{ url: 'http://127.0.0.1:9/admins-only' }]);
  });

  it("closes the connections of a session that logged out, not those of the user's other sessions", async () => {
    const tenant = await createTenant();
    const login = (
      await gql('mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', {
        input: { email: tenant.user.email, password: testPassword },
      })
    ).data!.login.accessToken as string;
    const ended = watch(connect(`Bearer ${tenant.user.accessToken}`), usageUpdated, { org: tenant.organizationId });
    const other = watch(connect(`Bearer ${login}`), usageUpdated, { org: tenant.organizationId });
    await delivering(tenant.apiKey, ended, other);

    const loggedOutAt = Date.now();
    expect((await gql('mutation ($t: String!) { logout(refreshToken: $t) }', { t: tenant.user.refreshToken })).data).toEqual({
      logout: true,
    });
    const cut = await closedWithin(ended, loggedOutAt);
    expect(cut).toMatchObject({ code: 4403 });
    expect(cut.ms).toBeLessThan(5_000);
    await delivering(tenant.apiKey, other);
    // This router refuses the token over HTTP too, and a new connection with it.
    expect((await gql('{ me { id } }', {}, { token: tenant.user.accessToken, url: router.url })).errors?.[0]?.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
    const retried = watch(connect(`Bearer ${tenant.user.accessToken}`), usageUpdated, { org: tenant.organizationId });
    await retried.done;
    expect(closeCode(retried)).toBe(4403);
  });

  it("closes the connections of a revoked key, a deleted project's key and a deleted organization's key and members", async () => {
    const [revoked, projectGone, organizationGone] = await Promise.all([createTenant(), createTenant(), createTenant()]);
    const orgMember = await member(organizationGone, 'VIEWER');
    const subs = {
      revoked: watch(connect(revoked.apiKey), usageUpdated, { org: revoked.organizationId }),
      projectGone: watch(connect(projectGone.apiKey), usageUpdated, { org: projectGone.organizationId }),
      organizationGone: watch(connect(organizationGone.apiKey), usageUpdated, { org: organizationGone.organizationId }),
      organizationMember: watch(connect(`Bearer ${orgMember.accessToken}`), usageUpdated, { org: organizationGone.organizationId }),
    };
    await delivering(revoked.apiKey, subs.revoked);
    await delivering(projectGone.apiKey, subs.projectGone);
    await delivering(organizationGone.apiKey, subs.organizationGone, subs.organizationMember);

    const changedAt = Date.now();
    await Promise.all([
      gql('mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: revoked.apiKeyId }, { token: revoked.user.accessToken }),
      gql('mutation ($id: ID!) { deleteProject(id: $id) }', { id: projectGone.projectId }, { token: projectGone.user.accessToken }),
      gql(
        'mutation ($id: ID!) { deleteOrganization(id: $id) }',
        { id: organizationGone.organizationId },
        { token: organizationGone.user.accessToken },
      ),
    ]);
    for (const [name, sub] of Object.entries(subs)) {
      const cut = await closedWithin(sub, changedAt);
      expect({ name, code: cut.code, inTime: cut.ms < 5_000 }).toEqual({ name, code: 4403, inTime: true });
    }
  });

  it("keeps a rotated key's connection through the grace period, then closes it", async () => {
    const tenant = await createTenant();
    const sub = watch(connect(tenant.apiKey), usageUpdated, { org: tenant.organizationId });
    await delivering(tenant.apiKey, sub);
    const rotated = await gql(
      'mutation ($id: ID!) { rotateApiKey(id: $id) { key apiKey { previousKeyExpiresAt } } }',
      { id: tenant.apiKeyId },
      { token: tenant.user.accessToken },
    );
    const { key, apiKey } = rotated.data!.rotateApiKey;
    const graceEnds = Date.parse(apiKey.previousKeyExpiresAt);
    // The test stack's grace period is 4 s: the old secret's connection still delivers meanwhile.
    await delivering(key, sub);
    expect(closeCode(sub)).toBeUndefined();
    const cut = await closedWithin(sub, graceEnds, 3_000);
    expect(cut.code).toBe(4403);
    expect(cut.ms).toBeGreaterThanOrEqual(-50);
    expect(cut.ms).toBeLessThan(3_000);
  });
});
