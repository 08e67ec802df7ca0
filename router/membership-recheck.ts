import { isMemberOf, type MembershipLookup } from './memberships.ts';
import { audienceOf } from './subscription-audience.ts';
import { forbid, type Connections } from './subscription-connections.ts';
import type { SubscriptionDelivery } from './subscription-delivery.ts';

/**
 * Asks again which organizations these users belong to (every subscribed user when none are
 * named). A subscriber no longer a member of its organization has its connection closed; one whose
 * memberships changed otherwise (a new role) moves to the group of its new audience, so that no
 * group resolves as someone who may no longer see what it shows. Nothing changes while accounts
 * cannot answer.
 */
export async function recheckMembers(
  options: { connections: Connections; membershipLookup: Pick<MembershipLookup, 'ofMany'>; delivery: Pick<SubscriptionDelivery, 'join'> },
  userIds?: string[],
) {
  const { connections, membershipLookup, delivery } = options;
  const subscribed = (userIds ?? connections.users()).filter((id) => connections.isSubscribed(id));
  const lists = await membershipLookup.ofMany(subscribed);
  if (!lists) return;
  for (const [userId, memberships] of lists) {
    for (const connection of connections.ofUser(userId)) {
      for (const subscriber of connection.subscribers) {
        if (!isMemberOf(memberships, subscriber.prepared.organizationId)) {
          forbid(connection, 'no longer a member of the organization');
          break;
        }
        delivery.join(subscriber, audienceOf(subscriber.identity, memberships.join(','), subscriber.reachesUser));
      }
    }
  }
}
