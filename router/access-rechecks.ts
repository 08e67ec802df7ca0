import type { Logger } from '@mindweave/service-kit';
import type { Authenticator } from './auth.ts';
import { recheckKeys } from './key-recheck.ts';
import { recheckMembers } from './membership-recheck.ts';
import type { MembershipLookup } from './memberships.ts';
import { forbid, type Connections } from './subscription-connections.ts';
import type { SubscriptionDelivery } from './subscription-delivery.ts';

/**
 * A connection never outlives its right. One opened with an access token is closed when the token
 * expires or its session ends; one opened with an API key when the key is revoked, expires, or its
 * project or organization is deleted; a user's subscription when they are no longer a member of
 * its organization. Events say so at once (access-events.ts), and every intervalMs every key and
 * every subscribed user's memberships are looked up again, in case an event was missed.
 */
export function startAccessRechecks(options: {
  connections: Connections;
  authenticator: Pick<Authenticator, 'recheckApiKey'>;
  membershipLookup: Pick<MembershipLookup, 'ofMany' | 'forget'>;
  delivery: Pick<SubscriptionDelivery, 'join'>;
  intervalMs: number;
  log: Pick<Logger, 'warn'>;
}) {
  const { connections, authenticator, membershipLookup, log } = options;
  const members = (userIds?: string[]) => recheckMembers(options, userIds);

  let rechecking = false;
  const timer = setInterval(async () => {
    if (rechecking) return;
    rechecking = true;
    try {
      await recheckKeys(
        authenticator,
        connections.all().filter((connection) => connection.apiKey),
      );
      await members();
    } catch (error) {
      log.warn({ err: error }, 'subscription re-check failed');
    } finally {
      rechecking = false;
    }
  }, options.intervalMs);
  timer.unref();

  /** What the router does when access changes (access-events.ts): on this instance, at once. */
  const onAccessChange = {
    sessionsEnded(sessionIds: string[]) {
      const ended = new Set(sessionIds);
      for (const connection of connections.all())
        if (connection.sessionId && ended.has(connection.sessionId)) forbid(connection, 'the session was ended');
    },
    membershipsChanged(userIds: string[]) {
      for (const userId of userIds) membershipLookup.forget(userId);
      void members(userIds).catch((error: unknown) => log.warn({ err: error }, 'memberships not re-checked'));
    },
    apiKeysChanged(apiKeyIds: string[]) {
      const changed = new Set(apiKeyIds);
      const keyed = connections.all().filter((connection) => connection.apiKey && changed.has(connection.apiKey.apiKeyId));
      if (keyed.length)
        void recheckKeys(authenticator, keyed).catch((error: unknown) => log.warn({ err: error }, 'API keys not re-checked'));
    },
  };

  return { onAccessChange, stop: () => clearInterval(timer) };
}
