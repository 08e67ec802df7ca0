import type { Identity } from '@mindweave/service-kit';
import { isMemberOf, type MembershipLookup } from './memberships.ts';

export interface SubscriptionAuthorization {
  verdict: 'allowed' | 'denied' | 'unknown';
  /** For a user, their memberships (`<organization>:<role>`, sorted, comma-separated): what decides what they see. */
  memberships: string;
}

/**
 * May the caller watch the organization? `unknown` when accounts could not tell (down, slow). An
 * API key may watch its own organization with the usage:read scope; a user one they are a member of.
 */
export async function authorizeSubscription(
  membershipLookup: Pick<MembershipLookup, 'of'>,
  identity: Identity,
  organizationId: string,
): Promise<SubscriptionAuthorization> {
  if (identity.kind === 'apiKey')
    return {
      verdict: identity.organizationId === organizationId && identity.scopes.includes('usage:read') ? 'allowed' : 'denied',
      memberships: '',
    };
  if (identity.kind !== 'user') return { verdict: 'denied', memberships: '' };
  let memberships = await membershipLookup.of(identity.userId);
  // Not a member as of the cached answer: ask again, the user may have just joined.
  if (memberships && !isMemberOf(memberships, organizationId)) memberships = await membershipLookup.of(identity.userId, true);
  if (!memberships) return { verdict: 'unknown', memberships: '' };
  return { verdict: isMemberOf(memberships, organizationId) ? 'allowed' : 'denied', memberships: memberships.join(',') };
}
