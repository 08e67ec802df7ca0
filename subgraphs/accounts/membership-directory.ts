import { createContextCache } from '@pothos/core';
import { forbidden, notFound } from '@mindweave/errors';
import { keepTailing, usersWhoseMembershipsChanged, type EventBus } from '@mindweave/events';
import { callInternalRoute, type Logger } from '@mindweave/service-kit';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { membershipsRoute, type MemberRole, type Membership } from './internal-routes.ts';

export type { MemberRole, Membership };

/** How a caller reaches an organization: as a member with a role, or as one of its API keys. */
export type OrganizationAccess = { kind: 'member'; role: MemberRole } | { kind: 'apiKey'; scopes: string[] };

const cacheTtlMs = 5_000;

/**
 * Which organizations a user belongs to, for the other subgraphs: asked of accounts (which owns
 * memberships) over its internal route (internal-routes.ts), signed like the router's requests.
 * Answers are kept for five seconds, and dropped at once when a membership event names the user
 * (followChanges), so that a removed member or a new role takes effect here as soon as the event
 * arrives.
 */
export function createMembershipDirectory(options: { accountsUrl: string; signingSecret: string; service: string }) {
  const cache = new Map<string, { at: number; memberships: Promise<Membership[]> }>();

  async function fetchMemberships(userId: string, requestId: string): Promise<Membership[]> {
    const answer = await callInternalRoute(
      membershipsRoute,
      { baseUrl: options.accountsUrl, signingSecret: options.signingSecret, service: options.service, requestId, timeoutMs: 3_000 },
      { userId },
    );
    return answer.memberships;
  }

  function membershipsOf(userId: string, requestId: string): Promise<Membership[]> {
    const hit = cache.get(userId);
    if (hit && Date.now() - hit.at < cacheTtlMs) return hit.memberships;
    const memberships = fetchMemberships(userId, requestId);
    cache.set(userId, { at: Date.now(), memberships });
    memberships.catch(() => cache.delete(userId));
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    return memberships;
  }

  // One lookup per request, however many resolvers ask.
  const perRequest = createContextCache((ctx: SubgraphContext) =>
    ctx.identity.kind === 'user' ? membershipsOf(ctx.identity.userId, ctx.requestId) : Promise.resolve([]),
  );

  async function accessTo(ctx: SubgraphContext, organizationId: string): Promise<OrganizationAccess | null> {
    if (ctx.identity.kind === 'apiKey')
      return ctx.identity.organizationId === organizationId ? { kind: 'apiKey', scopes: ctx.identity.scopes } : null;
    if (ctx.identity.kind !== 'user') return null;
    const membership = (await perRequest(ctx)).find((m) => m.organizationId === organizationId);
    return membership ? { kind: 'member', role: membership.role } : null;
  }

  /** The caller's access, or NOT_FOUND: another tenant's organization looks like none at all. */
  async function requireAccess(ctx: SubgraphContext, organizationId: string): Promise<OrganizationAccess> {
    const access = await accessTo(ctx, organizationId);
    if (!access) throw notFound('Organization');
    return access;
  }

  /** Members with one of `roles`; FORBIDDEN for other members and API keys. */
  async function requireRole(ctx: SubgraphContext, organizationId: string, roles: MemberRole[] = ['OWNER', 'ADMIN']): Promise<MemberRole> {
    const access = await requireAccess(ctx, organizationId);
    if (access.kind !== 'member' || !roles.includes(access.role)) throw forbidden(`Only ${roles.join(' and ')} members can do this`);
    return access.role;
  }

  /** Organization ids the caller can see. */
  async function visibleOrganizationIds(ctx: SubgraphContext): Promise<string[]> {
    if (ctx.identity.kind === 'apiKey') return [ctx.identity.organizationId];
    return (await perRequest(ctx)).map((m) => m.organizationId);
  }

  /** Drops cached memberships as events say they changed; stop the returned tail on shutdown. */
  function followChanges(bus: EventBus, log: Logger) {
    return keepTailing(
      bus,
      {
        domains: ['organization'],
        handler: (events) => {
          for (const event of events) for (const userId of usersWhoseMembershipsChanged(event)) cache.delete(userId);
          return Promise.resolve();
        },
      },
      log,
    );
  }

  return { accessTo, requireAccess, requireRole, visibleOrganizationIds, followChanges };
}

export type MembershipDirectory = ReturnType<typeof createMembershipDirectory>;
