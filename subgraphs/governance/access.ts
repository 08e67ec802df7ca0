import { createMembershipDirectory, type MemberRole } from '@mindweave/accounts/membership-directory';
import { forbidden, notFound } from '@mindweave/errors';
import { isUuid, type SubgraphContext } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { env } from './env.ts';
import type { Policy } from './generated/prisma/client.ts';

/** Memberships and roles are the accounts subgraph's: asked over its internal route. */
export const memberships = createMembershipDirectory({
  accountsUrl: env.ACCOUNTS_INTERNAL_URL,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  service: 'governance',
});

const managers: MemberRole[] = ['OWNER', 'ADMIN'];
export const readScope = 'policies:read';

/**
 * Policies and their audit log are read by the organization's members and by its API keys that
 * hold `policies:read` (the router checks the scope first; this holds without it too).
 */
export async function requireReader(ctx: SubgraphContext, organizationId: string): Promise<void> {
  const access = await memberships.requireAccess(ctx, organizationId);
  if (access.kind === 'apiKey' && !access.scopes.includes(readScope))
    throw forbidden(`Reading policies needs an API key with the ${readScope} scope`);
}

/** Only the organization's OWNER and ADMIN members change its policies. */
export const requireManager = (ctx: SubgraphContext, organizationId: string) => memberships.requireRole(ctx, organizationId, managers);

/**
 * The policy `id` for a caller who may read it (`manage`: change it): NOT_FOUND when it does not
 * exist or belongs to another tenant (the two look alike), FORBIDDEN for members below ADMIN.
 */
export async function requirePolicy(ctx: SubgraphContext, id: string, need: 'read' | 'manage'): Promise<Policy> {
  const policy = isUuid(id) ? await prisma.policy.findUnique({ where: { id } }) : null;
  const access = policy ? await memberships.accessTo(ctx, policy.organizationId) : null;
  if (!policy || !access) throw notFound('Policy');
  if (need === 'read') {
    if (access.kind === 'apiKey' && !access.scopes.includes(readScope))
      throw forbidden(`Reading policies needs an API key with the ${readScope} scope`);
  } else if (access.kind !== 'member' || !managers.includes(access.role)) {
    throw forbidden('Only OWNER and ADMIN members can change policies');
  }
  return policy;
}
