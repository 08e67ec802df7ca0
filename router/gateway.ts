import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { signIdentity, type Logger } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { operationLabel, type Metrics } from './metrics.ts';
import { createSubgraphFetcher } from './subgraph-fetcher.ts';

type Fetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

/** Forwards the caller's identity to subgraphs in signed headers, and times each fetch. */
class SignedDataSource extends RemoteGraphQLDataSource<RouterContext> {
  constructor(
    private readonly subgraph: string,
    url: string,
    fetcher: Fetcher,
    private readonly signingSecret: string,
    private readonly metrics: Metrics,
  ) {
    super({ url, fetcher });
  }

  override async process(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    const started = performance.now();
    try {
      return await super.process(options);
    } finally {
      const durationMs = performance.now() - started;
      const context = 'edge' in options.context ? options.context : undefined;
      context?.subgraphTimings.push({ subgraph: this.subgraph, durationMs: Math.round(durationMs * 100) / 100 });
      const operation = 'incomingRequestContext' in options ? options.incomingRequestContext.operationName : undefined;
      this.metrics.subgraphDuration.observe({ subgraph: this.subgraph, operation: operationLabel(operation) }, durationMs / 1000);
    }
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<RouterContext>) {
    const identity = 'identity' in context && context.identity ? context.identity : { kind: 'anonymous' as const };
    const requestId = 'requestId' in context && context.requestId ? context.requestId : 'unknown';
    for (const [name, value] of Object.entries(signIdentity(this.signingSecret, identity, requestId))) {
      request.http?.headers.set(name, value);
    }
  }
}

export interface GatewayOptions {
  supergraphPath: string;
  subgraphUrls: Map<string, string>;
  signingSecret: string;
  subgraphTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * @apollo/gateway refuses a supergraph whose SECURITY features it cannot enforce. This router
 * enforces @authenticated and @requiresScopes itself before planning (edge.ts), so it hands the
 * gateway those links without the purpose.
 */
export const forGateway = (supergraphSdl: string) =>
  supergraphSdl.replace(/(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[\d.]+"), for: SECURITY\)/g, '$1)');

/** A gateway over the supergraph file, reloading it whenever the file changes. */
export function createGateway(options: GatewayOptions) {
  const { supergraphPath, log } = options;
  const fetcher = createSubgraphFetcher(options.subgraphTimeoutMs);
  return new ApolloGateway({
    logger: log,
    supergraphSdl: async ({ update }) => {
      let current = await readFile(supergraphPath, 'utf8');
      // Polling survives editors and tools that replace the file instead of writing it in place.
      watchFile(supergraphPath, { interval: 500 }, async () => {
        try {
          const next = await readFile(supergraphPath, 'utf8');
          if (next === current) return;
          update(forGateway(next));
          current = next;
          log.info({ supergraphPath }, 'supergraph reloaded');
        } catch (error) {
          log.error({ err: error }, 'supergraph reload failed; still serving the previous one');
        }
      });
      return { supergraphSdl: forGateway(current), cleanup: async () => unwatchFile(supergraphPath) };
    },
    buildService: ({ name, url }) => new SignedDataSource(name, options.subgraphUrls.get(name) ?? url ?? '', fetcher, options.signingSecret, options.metrics),
  });
}
