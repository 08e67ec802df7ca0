import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import pg from 'pg';
import { latestSupergraph } from '@mindweave/schema-tools/registry';
import type { Logger } from '@mindweave/service-kit';
import type { Metrics } from './metrics.ts';
import { createPlanExecutor } from './plan-executor.ts';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-source.ts';

export interface GatewayOptions {
  supergraphPath: string;
  source: 'file' | 'registry';
  databaseUrl: string;
  pollMs: number;
  subgraphUrls: Map<string, string>;
  signingSecret: string;
  subgraphTimeoutMs: number;
  /** Who executes query plans: this router's executor (plan-executor.ts), or @apollo/gateway's own. */
  executor: 'router' | 'apollo';
  /** Identical subgraph queries in flight for the same identity share one request (subgraph-source.ts). */
  deduplicateSubgraphQueries: boolean;
  metrics: Metrics;
  log: Logger;
  /** Filled with each subgraph's URL as the gateway builds it (for health checks). */
  subgraphs?: Map<string, string>;
}

/**
 * @apollo/gateway refuses a supergraph whose SECURITY features it cannot enforce. This router
 * enforces @authenticated and @requiresScopes itself before planning (edge.ts), so it hands the
 * gateway those links without the purpose.
 */
export const forGateway = (supergraphSdl: string) =>
  supergraphSdl.replace(/(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[\d.]+"), for: SECURITY\)/g, '$1)');

/** Where the supergraph comes from: a file watched for changes, or the schema registry polled. */
function supergraphSource(options: GatewayOptions) {
  const { supergraphPath, log } = options;
  const pool =
    options.source === 'registry'
      ? new pg.Pool({ connectionString: options.databaseUrl, max: 1, connectionTimeoutMillis: 5_000 })
      : undefined;
  // An idle connection that PostgreSQL drops (a restart) must not take the router down: the next poll reconnects.
  pool?.on('error', (error) => log.warn({ err: error }, 'schema registry connection lost'));
  const readFileSdl = () => readFile(supergraphPath, 'utf8');
  async function readRegistry(): Promise<string | null> {
    // What `pnpm schema publish` writes, read through packages/schema-tools, which owns the registry.
    return latestSupergraph(pool!).catch((error: unknown) => {
      log.warn({ err: error }, 'schema registry unreachable; serving the current supergraph');
      return null;
    });
  }
  const read = async () => (pool ? ((await readRegistry()) ?? (await readFileSdl())) : readFileSdl());

  return async ({ update }: { update: (sdl: string) => void }) => {
    let current = await read();
    const refresh = async () => {
      try {
        const next = await read();
        if (next === current) return;
        update(forGateway(next));
        current = next;
        log.info({ source: options.source }, 'supergraph reloaded');
      } catch (error) {
        log.error({ err: error }, 'supergraph reload failed; still serving the previous one');
      }
    };
    // Polling survives editors and tools that replace the file instead of writing it in place.
    let timer: NodeJS.Timeout | undefined;
    if (pool) timer = setInterval(refresh, options.pollMs);
    else watchFile(supergraphPath, { interval: 500 }, refresh);
    return {
      supergraphSdl: forGateway(current),
      cleanup: async () => {
        clearInterval(timer);
        unwatchFile(supergraphPath);
        await pool?.end();
      },
    };
  };
}

/**
 * A gateway over the supergraph, reloading it whenever its source changes, for Apollo Server.
 * @apollo/gateway loads the supergraph, builds the API schema and the subgraphs' data sources;
 * with `executor: 'router'` the query plans are executed by plan-executor.ts instead of it.
 */
export function createGateway(options: GatewayOptions) {
  const agent = createSubgraphAgent(options.subgraphTimeoutMs);
  const sources = new Map<string, SubgraphDataSource>();
  const gateway = new ApolloGateway({
    logger: options.log,
    supergraphSdl: supergraphSource(options),
    buildService: ({ name, url }) => {
      const target = options.subgraphUrls.get(name) ?? url ?? '';
      options.subgraphs?.set(name, target);
      const source = new SubgraphDataSource(
        name,
        target,
        agent,
        options.signingSecret,
        options.metrics,
        options.deduplicateSubgraphQueries,
      );
      sources.set(name, source);
      return source;
    },
  });
  if (options.executor === 'apollo') return gateway;
  const planExecutor = createPlanExecutor({ sources, fallback: gateway.executor });
  // Registered before Apollo Server's own listener, so that plans follow every supergraph version.
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => planExecutor.setSupergraph(coreSupergraphSdl));
  return {
    async load(loadOptions: Parameters<ApolloGateway['load']>[0]): ReturnType<ApolloGateway['load']> {
      const { schema } = await gateway.load(loadOptions);
      return { schema, executor: planExecutor.executor };
    },
    onSchemaLoadOrUpdate: (callback: Parameters<ApolloGateway['onSchemaLoadOrUpdate']>[0]) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
    get schema() {
      return gateway.schema;
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
