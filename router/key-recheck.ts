import { requestIdFrom } from '@mindweave/service-kit';
import type { Authenticator } from './auth.ts';
import { forbid, scheduleExpiry, type Connection } from './subscription-connections.ts';

/**
 * Looks the keys of these connections up again, once per key: closes those that stopped working,
 * and follows new expiries (a rotation's grace period). Nothing changes for a key accounts cannot
 * answer for right now.
 */
export async function recheckKeys(authenticator: Pick<Authenticator, 'recheckApiKey'>, keyed: Iterable<Connection>) {
  const byKey = new Map<string, Connection[]>();
  for (const connection of keyed) {
    if (!connection.apiKey) continue;
    const list = byKey.get(connection.apiKey.key);
    if (list) list.push(connection);
    else byKey.set(connection.apiKey.key, [connection]);
  }
  for (const [key, list] of byKey) {
    const verdict = await authenticator.recheckApiKey(key, requestIdFrom(undefined));
    if (verdict === 'unknown') continue;
    for (const connection of list) {
      if (verdict === 'revoked') forbid(connection, 'the API key was revoked, expired or deleted');
      else scheduleExpiry(connection, verdict.expiresAtMs);
    }
  }
}
