import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { signIdentity, type Logger } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';

/** Forwards the caller's identity to subgraphs in headers signed with the internal secret. */
class SignedDataSource extends RemoteGraphQLDataSource<RouterContext> {
  constructor(
    url: string,
    private readonly signingSecret: string,
  ) {
    super({ url });
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
  log: Logger;
}

/** A gateway over the supergraph file, reloading it whenever the file changes. */
export function createGateway(options: GatewayOptions) {
  const { supergraphPath, log } = options;
  return new ApolloGateway({
    logger: log,
    supergraphSdl: async ({ update }) => {
      let current = await readFile(supergraphPath, 'utf8');
      // Polling survives editors and tools that replace the file instead of writing it in place.
      watchFile(supergraphPath, { interval: 500 }, async () => {
        try {
          const next = await readFile(supergraphPath, 'utf8');
          if (next === current) return;
          update(next);
          current = next;
          log.info({ supergraphPath }, 'supergraph reloaded');
        } catch (error) {
          log.error({ err: error }, 'supergraph reload failed; still serving the previous one');
        }
      });
      return { supergraphSdl: current, cleanup: async () => unwatchFile(supergraphPath) };
    },
    buildService: ({ name, url }) => new SignedDataSource(options.subgraphUrls.get(name) ?? url ?? '', options.signingSecret),
  });
}
