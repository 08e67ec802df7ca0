import { LRUCache } from 'lru-cache';
import { membershipsByUserRoute, membershipsRoute } from '@mindweave/accounts/internal-routes';
import { callInternalRoute, requestIdFrom } from '@mindweave/service-kit';

/** A user's memberships as `<organization>:<role>`, sorted: what decides what they may watch and see. */
export type MembershipList = string[];

const listOf = (memberships: { organizationId: string; role: string }[]): MembershipList =>
  memberships.map((m) => `${m.organizationId}:${m.role}`).sort();

export const isMemberOf = (memberships: MembershipList, organizationId: string) =>
  memberships.some((m) => m.startsWith(`${organizationId}:`));

/**
 * Users' memberships, asked of accounts (which owns them) on its internal route, signed as the
 * router. A dashboard opens several subscriptions at once: a user's are asked for once per 10 s,
 * and forgotten as soon as a membership event names the user.
 */
export function createMembershipLookup(options: { accountsUrl: string; signingSecret: string; ttlMs?: number }) {
  const recent = new LRUCache<string, Promise<MembershipList | null>>({ max: 10_000, ttl: options.ttlMs ?? 10_000 });
  const call = () => ({
    baseUrl: options.accountsUrl,
    signingSecret: options.signingSecret,
    service: 'router',
    requestId: requestIdFrom(undefined),
    timeoutMs: 3_000,
  });

  /** The user's memberships, or null when accounts could not tell (down, slow). */
  function of(userId: string, fresh = false): Promise<MembershipList | null> {
    const cached = fresh ? undefined : recent.get(userId);
    if (cached) return cached;
    const asked: Promise<MembershipList | null> = callInternalRoute(membershipsRoute, call(), { userId }).then(
      (answer) => listOf(answer.memberships),
      () => null,
    );
    recent.set(userId, asked);
    // Not an answer: the next question asks again (unless a newer one replaced this one).
    void asked.then((list) => {
      if (list === null && recent.get(userId) === asked) recent.delete(userId);
    });
    return asked;
  }

  /**
   * Many users' memberships, a thousand per request (the periodic re-check of every subscriber);
   * null when accounts could not tell. A user accounts did not answer for is left out, not taken
   * for one without memberships.
   */
  async function ofMany(userIds: string[]): Promise<Map<string, MembershipList> | null> {
    const answered = new Map<string, MembershipList>();
    for (let i = 0; i < userIds.length; i += 1_000) {
      const batch = userIds.slice(i, i + 1_000);
      const answer = await callInternalRoute(membershipsByUserRoute, call(), { userIds: batch }).catch(() => null);
      if (!answer) return null;
      const { byUser } = answer;
      for (const id of batch) {
        const memberships = byUser[id];
        if (!memberships) continue;
        const list = listOf(memberships);
        answered.set(id, list);
        recent.set(id, Promise.resolve(list));
      }
    }
    return answered;
  }

  return { of, ofMany, forget: (userId: string) => void recent.delete(userId) };
}

export type MembershipLookup = ReturnType<typeof createMembershipLookup>;
