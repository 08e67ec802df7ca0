import type WebSocket from 'ws';
import type { Identity } from '@mindweave/service-kit';
import type { Authentication } from './auth.ts';
import type { Subscriber } from './subscription-delivery.ts';

/** One WebSocket connection, and what its credential stands for. */
export interface Connection {
  socket: Pick<WebSocket, 'close' | 'readyState' | 'bufferedAmount' | 'send'>;
  identity: Identity;
  /** The session of the access token it was opened with: ending it closes the connection. */
  sessionId?: string;
  /** The API key it was opened with, looked up again when it changes and every recheckKeysMs. */
  apiKey?: { key: string; apiKeyId: string };
  /** Closes it when its credential expires. */
  expiry?: NodeJS.Timeout;
  subscribers: Set<Subscriber>;
}

/**
 * Closes a connection whose right ended. 4403 tells a graphql-ws client to reconnect, with fresh
 * connectionParams when it computes them; a subscription it renews for an organization it left is
 * then refused with FORBIDDEN.
 */
export const forbid = (connection: Connection, reason: string) => connection.socket.close(4403, `Forbidden: ${reason}`);

/** Closes the connection when its credential expires (again, when a re-check finds a new expiry). */
export function scheduleExpiry(connection: Connection, expiresAtMs: number | null | undefined) {
  clearTimeout(connection.expiry);
  // Past about 24 days setTimeout fires at once; the periodic re-check comes long before that.
  if (!expiresAtMs || expiresAtMs - Date.now() > 2 ** 31 - 1) return;
  connection.expiry = setTimeout(() => forbid(connection, 'the credential expired'), Math.max(0, expiresAtMs - Date.now())).unref();
}

/** The open, authenticated connections of this instance, by socket and by user. */
export function createConnections() {
  const bySocket = new Map<object, Connection>();
  const byUser = new Map<string, Set<Connection>>();

  /** Registers an authenticated socket; `apiKey` is the key it presented, if it did. */
  function open(socket: Connection['socket'], { identity, sessionId, expiresAtMs }: Authentication, apiKey: string | undefined) {
    const connection: Connection = {
      socket,
      identity,
      ...(sessionId ? { sessionId } : {}),
      ...(apiKey !== undefined && identity.kind === 'apiKey' ? { apiKey: { key: apiKey, apiKeyId: identity.apiKeyId } } : {}),
      subscribers: new Set(),
    };
    bySocket.set(socket, connection);
    if (identity.kind === 'user') {
      const list = byUser.get(identity.userId) ?? new Set();
      byUser.set(identity.userId, list.add(connection));
    }
    scheduleExpiry(connection, expiresAtMs);
    return connection;
  }

  function close(socket: object) {
    const connection = bySocket.get(socket);
    if (!connection) return;
    bySocket.delete(socket);
    clearTimeout(connection.expiry);
    if (connection.identity.kind === 'user') {
      const list = byUser.get(connection.identity.userId);
      list?.delete(connection);
      if (list?.size === 0) byUser.delete(connection.identity.userId);
    }
  }

  return {
    open,
    close,
    get: (socket: object) => bySocket.get(socket),
    all: () => [...bySocket.values()],
    ofUser: (userId: string): Iterable<Connection> => byUser.get(userId) ?? [],
    users: () => [...byUser.keys()],
    /** Whether the user holds a subscription on some connection. */
    isSubscribed: (userId: string) => [...(byUser.get(userId) ?? [])].some((connection) => connection.subscribers.size > 0),
  };
}

export type Connections = ReturnType<typeof createConnections>;
