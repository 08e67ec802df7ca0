import { randomUUID } from 'node:crypto';
import { postAsService } from '@mindweave/service-kit';

export type MemberRole = 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';
export type OrganizationInfo = { id: string; name: string; plan: string; members: { userId: string; role: MemberRole }[] };
export type UserInfo = { id: string; email: string; name: string };

/**
 * Who an email goes to: organizations (plan, members) from accounts and users' addresses from
 * identity, over their internal routes, signed as the `workers` service. Organizations are kept
 * for `cacheMs`, so that a burst of usage events asks once.
 */
export function createDirectory(options: { accountsUrl: string; identityUrl: string; signingSecret: string; cacheMs?: number }) {
  const cacheMs = options.cacheMs ?? 60_000;
  const organizations = new Map<string, { at: number; value: Promise<OrganizationInfo | null> }>();

  async function post<T>(base: string, path: string, body: unknown): Promise<{ status: number; body: T | null }> {
    const response = await postAsService(new URL(path, base), { signingSecret: options.signingSecret, service: 'workers', requestId: randomUUID(), body, timeoutMs: 5_000 });
    if (response.status === 404) return { status: 404, body: null };
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return { status: response.status, body: (await response.json()) as T };
  }

  function organization(organizationId: string): Promise<OrganizationInfo | null> {
    const hit = organizations.get(organizationId);
    if (hit && Date.now() - hit.at < cacheMs) return hit.value;
    const value = post<OrganizationInfo>(options.accountsUrl, '/internal/organizations', { organizationId }).then((answer) => answer.body);
    organizations.set(organizationId, { at: Date.now(), value });
    value.catch(() => organizations.delete(organizationId));
    if (organizations.size > 10_000) organizations.delete(organizations.keys().next().value as string);
    return value;
  }

  async function users(ids: string[]): Promise<UserInfo[]> {
    if (ids.length === 0) return [];
    return (await post<{ users: UserInfo[] }>(options.identityUrl, '/internal/users', { ids })).body?.users ?? [];
  }

  /** The organization and its members with one of `roles`, with their addresses. */
  async function members(organizationId: string, roles: MemberRole[]): Promise<{ organization: OrganizationInfo | null; recipients: UserInfo[] }> {
    const org = await organization(organizationId);
    if (!org) return { organization: null, recipients: [] };
    const ids = org.members.filter((member) => roles.includes(member.role)).map((member) => member.userId);
    return { organization: org, recipients: await users(ids) };
  }

  /** Organizations deleted before `before` whose usage data is still kept (the purge job). */
  async function deletedOrganizations(before: Date): Promise<string[]> {
    return (await post<{ organizationIds: string[] }>(options.accountsUrl, '/internal/organizations/deleted', { before: before.toISOString() })).body?.organizationIds ?? [];
  }

  /** Tells accounts these organizations' usage data is gone. */
  async function markPurged(organizationIds: string[]): Promise<void> {
    if (organizationIds.length) await post(options.accountsUrl, '/internal/organizations/purged', { organizationIds });
  }

  return { organization, users, members, deletedOrganizations, markPurged };
}

export type Directory = ReturnType<typeof createDirectory>;
