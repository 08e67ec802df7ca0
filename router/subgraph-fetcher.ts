import { Agent, fetch as undiciFetch } from 'undici';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';

type Fetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

/**
 * Subgraph fetches over pooled keep-alive connections, each bounded by `timeoutMs`: a slow or
 * down subgraph becomes an error for its part of the response, never a hung request.
 */
export function createSubgraphFetcher(timeoutMs: number): Fetcher {
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1 });
  return ((url: string, init?: Record<string, unknown>) =>
    undiciFetch(url, { ...init, dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) } as Parameters<typeof undiciFetch>[1])) as unknown as Fetcher;
}
