// A share of the benchmark's subscribers, in a worker thread of its own: 1,000 subscribers at 200
// events/s are 200,000 messages a second to parse, more than one thread keeps up with, and a
// saturated client would be measuring its own queue instead of the router's delivery.
import { parentPort, workerData } from 'node:worker_threads';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface SubscriberShare {
  wsUrl: string;
  apiKey: string;
  organizationId: string;
  subscribers: number;
  connections: number;
}

export interface SubscriberResult {
  latencies: number[];
  received: number[];
}

const share = workerData as SubscriberShare;
const latencies: number[] = [];
const received = new Array<number>(share.subscribers).fill(0);
const clients: Client[] = [];
// A few WebSocket connections carry many subscriptions each, as dashboards' tabs do.
for (let c = 0; c < share.connections; c++) clients.push(createClient({ url: share.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: share.apiKey }, retryAttempts: 0 }));
for (let s = 0; s < share.subscribers; s++) {
  clients[s % share.connections]!.subscribe(
    { query: 'subscription ($org: ID!) { usageUpdated(organizationId: $org) { id occurredAt organization { name } } }', variables: { org: share.organizationId } },
    {
      next: (result) => {
        const event = (result.data as { usageUpdated: { occurredAt: string } }).usageUpdated;
        latencies.push(Date.now() - Date.parse(event.occurredAt));
        received[s]! += 1;
      },
      error: (error) => console.error('subscription failed', error),
      complete: () => undefined,
    },
  );
}

parentPort!.once('message', async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  parentPort!.postMessage({ latencies, received } satisfies SubscriberResult);
});
