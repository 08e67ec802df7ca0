import { createMindWeaveClient } from '@mindweave/sdk';
import { graphqlUrl } from './config.ts';
import { createSession } from './session.ts';

// The page gives up waiting sooner than a service would: a person is watching (errors.ts says when to retry).
const retry = { attempts: 3, baseDelayMs: 250, maxDelayMs: 5_000 };

type Listener = () => void;

/** Whether the live connection is up, and how often it has come back, for the live views. */
function createConnectionState() {
  let state: { status: 'idle' | 'connecting' | 'live' | 'down'; reconnects: number } = { status: 'idle', reconnects: 0 };
  const listeners = new Set<Listener>();
  const set = (next: Partial<typeof state>) => {
    state = { ...state, ...next };
    for (const listener of listeners) listener();
  };
  return {
    get: () => state,
    subscribe(listener: Listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    set,
  };
}

export const connection = createConnectionState();

/** For sign-in, MFA and token refreshes. */
const anonymous = createMindWeaveClient({ url: graphqlUrl, retry });

const signedOutListeners = new Set<Listener>();
export const session = createSession({
  client: anonymous,
  store: window.sessionStorage,
  onSignedOut: () => {
    for (const listener of signedOutListeners) listener();
  },
});
export const onSignedOut = (listener: Listener) => {
  signedOutListeners.add(listener);
  return () => void signedOutListeners.delete(listener);
};

/**
 * The signed-in user's client: every request and every WebSocket connection asks the session for
 * its access token, so a connection that the router closes when its token expires (4403) comes back
 * with a fresh one.
 */
export const client = createMindWeaveClient({
  url: graphqlUrl,
  auth: () => session.accessToken(),
  retry,
  on: {
    connecting: () => connection.set({ status: 'connecting' }),
    connected: (_socket, _payload, wasRetry) =>
      connection.set({ status: 'live', ...(wasRetry ? { reconnects: connection.get().reconnects + 1 } : {}) }),
    closed: () => connection.set({ status: 'down' }),
  },
});
