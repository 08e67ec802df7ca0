import { keepTailing, usersWhoseMembershipsChanged, type EventBus, type EventEnvelope } from '@mindweave/events';
import type { Logger } from '@mindweave/service-kit';

/** What the router does when access changes: each handler acts on this instance only. */
export interface AccessHandlers {
  sessionsEnded(sessionIds: string[], untilMs: number): void;
  membershipsChanged(userIds: string[]): void;
  apiKeysChanged(keys: { apiKeyId: string; keyHash: string }[]): void;
}

/**
 * Every router instance tails the access events (fan-out, no consumer group): a session ended, a
 * membership changed, an organization deleted, keys revoked or rotated. Each is acted on at once:
 * caches dropped, tokens refused, connections that lost their right closed. If the log cannot be
 * tailed at start (Redis down), it is tried again every few seconds (keepTailing); meanwhile the
 * periodic re-checks (subscriptions.ts) and the cache lifetimes bound how long a change takes.
 */
export function startAccessEvents(options: { bus: EventBus; handlers: AccessHandlers; log: Logger }) {
  const { handlers } = options;
  function handle(events: EventEnvelope[]) {
    for (const event of events) {
      switch (event.type) {
        case 'user.session_ended': {
          const { sessionIds, until } = event.data;
          handlers.sessionsEnded(sessionIds, Date.parse(until));
          break;
        }
        case 'organization.membership_changed':
        case 'organization.deleted':
          handlers.membershipsChanged(usersWhoseMembershipsChanged(event));
          break;
        case 'organization.api_keys_changed':
          handlers.apiKeysChanged(event.data.keys);
          break;
        default:
          break;
      }
    }
    return Promise.resolve();
  }
  return keepTailing(options.bus, { domains: ['user', 'organization'], handler: handle }, options.log);
}
