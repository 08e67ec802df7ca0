import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { stack } from './client.ts';

// graphql-ws clients for tests: each one connects at once and does not retry, so that a close
// (4403 and the like) reaches the subscription's error handler.

export const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, 'ws');

/** A connector whose clients `disposeAll` closes (in an afterAll). */
export function wsClients() {
  const clients: Client[] = [];
  return {
    connect(authorization?: string, url = stack.routerUrl) {
      // Routers stopped at the end close their sockets: that is expected, not worth printing.
      const client = createClient({
        url: wsUrl(url),
        webSocketImpl: WebSocket,
        connectionParams: authorization ? { authorization } : {},
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
      });
      clients.push(client);
      return client;
    },
    disposeAll: () => Promise.all(clients.map((client) => client.dispose())),
  };
}

/** Collects what a subscription yields; `done` settles when it ends (completed, refused, or its connection closed). */
export function watch(client: Client, query: string, variables: Record<string, unknown>) {
  const results: { data?: any; errors?: any }[] = [];
  const errors: unknown[] = [];
  let settle: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const stop = client.subscribe(
    { query, variables },
    {
      next: (r) => void results.push(r as never),
      error: (e) => {
        errors.push(e);
        settle();
      },
      complete: () => settle(),
    },
  );
  return { results, errors, done, stop };
}

/** The close code that ended a watched subscription, if its connection closed. */
export const closeCode = (watched: { errors: unknown[] }) => (watched.errors[0] as { code?: number } | undefined)?.code;

export async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}
