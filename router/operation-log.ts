import type { ApolloServerPlugin } from '@apollo/server';
import { isErrorCode } from '@mindweave/errors';
import type { RouterContext } from './context.ts';
import { operationLabel, type Metrics } from './metrics.ts';

/**
 * One log line per operation (request id, name and hash, identity kind, cost, duration,
 * per-subgraph timings, error codes) and its latency metric. Variables only at debug level,
 * through the logger's redaction.
 */
export function operationLogPlugin(metrics: Metrics): ApolloServerPlugin<RouterContext> {
  return {
    async requestDidStart({ contextValue, request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, operationName, operation, queryHash, errors }) {
          const { log, identity } = contextValue;
          const durationMs = Math.round((performance.now() - started) * 100) / 100;
          const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const errorCodes = (errors ?? result?.errors ?? []).map((e) => ('extensions' in e ? e.extensions?.['code'] : undefined));
          const edge = request.query ? contextValue.edge.get(request.query) : undefined;
          const name = operationName ?? request.operationName;
          const labels = { operation: operationLabel(name), type: operation?.operation ?? 'unknown' };
          metrics.requestDuration.observe(labels, durationMs / 1000);
          for (const code of new Set(errorCodes)) metrics.operationErrors.inc({ ...labels, code: isErrorCode(code) ? code : 'other' });
          log.info(
            {
              operationName: name,
              operationHash: queryHash?.slice(0, 16),
              identity: identity.kind,
              estimatedCost: edge?.estimatedCost,
              actualCost: edge?.actualCost,
              durationMs,
              subgraphs: contextValue.subgraphTimings.length ? contextValue.subgraphTimings : undefined,
              errorCodes: errorCodes.length ? errorCodes : undefined,
            },
            'operation',
          );
          if (log.isLevelEnabled('debug')) log.debug({ variables: request.variables }, 'operation variables');
        },
      };
    },
  };
}
