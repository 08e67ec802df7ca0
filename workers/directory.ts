import { randomUUID } from 'node:crypto';
import {
  deletedOrganizationsRoute,
  organizationRoute,
  purgedOrganizationsRoute,
  type MemberRole,
  type OrganizationInfo,
} from '@mindweave/accounts/internal-routes';
import { usersRoute, type UserInfo } from '@mindweave/identity/internal-routes';
import { callInternalRoute, nullOn404 } from '@mindweave/service-kit';

export type { MemberRole, OrganizationInfo, UserInfo };

/**
 * Who an email goes to: organizations (plan, members) from accounts and users' addresses from
 * identity, over their internal routes (their internal-routes.ts), signed as the `workers`
 * service. Organizations are kept for `cacheMs`, so that a burst of usage events asks once.
 */
export function createDirectory(options: { accountsUrl: string; identityUrl: string; signingSecret: string; cacheMs?: number }) {
  const cacheMs = options.cacheMs ?? 60_000;
  const organizations = new Map<string, { at: number; value: Promise<OrganizationInfo | null> }>();
  const accounts = () => ({
    baseUrl: options.accountsUrl,
    signingSecret: options.signingSecret,
    service: 'workers',
    requestId: randomUUID(),
    timeoutMs: 5_000,
  });
  const identity = () => ({ ...accounts(), baseUrl: options.identityUrl });

  function organization(organizationId: string): Promise<OrganizationInfo | null> {
    const hit = organizations.get(organizationId);
    if (hit && Date.now() - hit.at < cacheMs) return hit.value;
    const value = callInternalRoute(organizationRoute, accounts(), { organizationId }).catch(nullOn404);
    organizations.set(organizationId, { at: Date.now(), value });
    value.catch(() => organizations.delete(organizationId));
    if (organizations.size > 10_000) organizations.delete(organizations.keys().next().value as string);
    return value;
  }

  async function users(ids: string[]): Promise<UserInfo[]> {
    if (ids.length === 0) return [];
    return (await callInternalRoute(usersRoute, identity(), { ids })).users;
  }

  /** The organization and its members with one of `roles`, with their addresses. */
  async function members(
    organizationId: string,
    roles: MemberRole[],
  ): Promise<{ organization: OrganizationInfo | null; recipients: UserInfo[] }> {
    const org = await organization(organizationId);
    if (!org) return { organization: null, recipients: [] };
    const ids = org.members.filter((member) => roles.includes(member.role)).map((member) => member.userId);
    return { organization: org, recipients: await users(ids) };
  }

  /** Organizations deleted before `before` whose usage data is still kept (the purge job). */
  async function deletedOrganizations(before: Date): Promise<string[]> {
    return (await callInternalRoute(deletedOrganizationsRoute, accounts(), { before: before.toISOString() })).organizationIds;
  }

  /** Tells accounts these organizations' usage data is gone. */
  async function markPurged(organizationIds: string[]): Promise<void> {
    if (organizationIds.length) await callInternalRoute(purgedOrganizationsRoute, accounts(), { organizationIds });
  }

  return { organization, users, members, deletedOrganizations, markPurged };
}

export type Directory = ReturnType<typeof createDirectory>;
