import { Agent, fetch as undiciFetch } from 'undici';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';

type Fetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

/**
 * Subgraph fetches over pooled keep-alive connections. Waiting for a subgraph's headers, and then
 * between chunks of its body, is bounded by `timeoutMs` on the connection pool (cheaper than an
 * AbortSignal per fetch): a slow or down subgraph becomes an error for its part of the response,
 * never a hung request.
 */
export function createSubgraphFetcher(timeoutMs: number): Fetcher {
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: Math.min(timeoutMs, 5_000) });
  return ((url: string, init?: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as Fetcher;
}
