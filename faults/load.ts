import WebSocket from 'ws';
import { createMindWeaveClient, RecordUsageBatchDocument, UsageUpdatedDocument } from '../packages/sdk/src/index.ts';
import { sleep } from '../scripts/private-services.ts';

// What the fault suite sends: usage in batches with unique idempotency keys, through the SDK and its
// retry logic (UNAVAILABLE, 503 and network errors are retried with the same keys), as a customer's
// service would, over several routers behind a client-side balancer.

export interface SentBatch {
  keys: string[];
  /** Responses that failed before the one that answered (503s, refused connections...). */
  failedAttempts: number;
  receipt?: { accepted: number; duplicates: number };
  /** The SDK gave up: its keys are not counted as accepted. */
  error?: string;
  doneAt: number;
}

/** fetch over several router URLs: a refused or reset connection moves on to the next one, as a load balancer would. */
function balancedFetch(routerUrls: string[], onFailure: () => void): typeof fetch {
  let current = 0;
  // The request goes to each router in turn, whatever URL the caller named.
  return async (_input, init?) => {
    let lastError: unknown;
    for (let i = 0; i < routerUrls.length; i++) {
      const index = (current + i) % routerUrls.length;
      try {
        const response = await fetch(routerUrls[index]!, { ...init, signal: AbortSignal.timeout(30_000) });
        current = index;
        if (response.status >= 500) onFailure();
        return response;
      } catch (error) {
        // Refused, or cut off with the request sent: either way it goes again, with the same keys.
        onFailure();
        lastError = error;
      }
    }
    throw lastError;
  };
}

/**
 * `senders` loops, each sending batches of `batchSize` events one after another (a pause between
 * them) until stop(). Keys are `<label>-<n>`, unique across the run.
 */
export function startSending(options: {
  routerUrls: string[];
  apiKey: string;
  label: string;
  senders: number;
  batchSize: number;
  pauseMs: number;
  twins?: boolean;
}) {
  const batches: SentBatch[] = [];
  let stopped = false;
  let sequence = 0;
  const loops = Array.from({ length: options.senders }, async () => {
    let failedAttempts = 0;
    const client = createMindWeaveClient({
      url: options.routerUrls[0]!,
      auth: { apiKey: options.apiKey },
      fetch: balancedFetch(options.routerUrls, () => failedAttempts++),
      // Long enough to outlast a 15-second outage: about two minutes of tries, Retry-After honoured.
      retry: { attempts: 60, baseDelayMs: 200, maxDelayMs: 5_000 },
    });
    while (!stopped) {
      const keys = Array.from({ length: options.batchSize }, () => `${options.label}-${sequence++}`);
      const inputs = keys.map((idempotencyKey, i) => ({
        idempotencyKey,
        model: i % 2 ? 'gpt-4o-mini' : 'gpt-4o',
        inputTokens: 100 + (i % 7),
        outputTokens: 20,
        latencyMs: 15,
      }));
      failedAttempts = 0;
      const batch: SentBatch = { keys, failedAttempts: 0, doneAt: 0 };
      try {
        // Twins: the same batch sent twice at once, as a client retrying too eagerly would; their receipts add up.
        const receipts = await Promise.all(
          Array.from({ length: options.twins ? 2 : 1 }, () => client.request(RecordUsageBatchDocument, { inputs })),
        );
        batch.receipt = receipts.reduce(
          (sum, { recordUsageBatch }) => ({
            accepted: sum.accepted + recordUsageBatch.accepted,
            duplicates: sum.duplicates + recordUsageBatch.duplicates,
          }),
          { accepted: 0, duplicates: 0 },
        );
      } catch (error) {
        batch.error = (error as Error).message;
      }
      batch.failedAttempts = failedAttempts;
      batch.doneAt = Date.now();
      batches.push(batch);
      await sleep(options.pauseMs);
    }
  });
  return {
    batches,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** A live subscriber of the organization's usage through the SDK, subscribing again after an error as its users do. */
export function watchUsage(routerUrl: string, organizationId: string, apiKey: string) {
  const seen = new Set<string>();
  const client = createMindWeaveClient({
    url: routerUrl,
    auth: { apiKey },
    webSocketImpl: WebSocket,
    retry: { attempts: 1_000, baseDelayMs: 200, maxDelayMs: 1_000 },
  });
  let closed = false;
  const subscribe = (): void =>
    void client.subscribe(
      UsageUpdatedDocument,
      { organizationId },
      ({ usageUpdated }) => void seen.add(usageUpdated.id),
      // An event the router could not resolve (a subgraph down) leaves the subscription on; one that ended is taken again.
      (_error, ended) => void (ended && !closed && setTimeout(subscribe, 500)),
    );
  subscribe();
  return {
    seen,
    async close() {
      closed = true;
      await client.close();
    },
  };
}
