import type { ApolloServerPlugin } from '@apollo/server';
import { isErrorCode } from '@mindweave/errors';
import type { RouterContext } from './context.ts';
import { operationLabel, type Metrics } from './metrics.ts';
import { clientOf, type UsageReporter } from './usage-reporting.ts';

/**
 * One log line per operation (request id, name and hash, identity kind, cost, duration,
 * per-subgraph timings, error codes), its latency metric, and its count in the usage reports
 * (here rather than in a plugin of its own: one hook less per request). Variables only at debug
 * level, through the logger's redaction.
 */
export function operationLogPlugin(metrics: Metrics, usage?: UsageReporter): ApolloServerPlugin<RouterContext> {
  return {
    async requestDidStart({ contextValue, request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, operationName, operation, queryHash, errors }) {
          const { log, identity } = contextValue;
          const durationMs = Math.round((performance.now() - started) * 100) / 100;
          const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
          // The errors as the client got them: their codes are the contract's, after unavailable.ts' rewriting.
          const errorCodes = (result?.errors ?? errors ?? []).map((e) => ('extensions' in e ? e.extensions?.['code'] : undefined));
          const edge = request.query ? contextValue.edge.get(request.query) : undefined;
          const name = operationName ?? request.operationName;
          const labels = { operation: operationLabel(name), type: operation?.operation ?? 'unknown' };
          metrics.requestDuration.observe(labels, durationMs / 1000);
          for (const code of new Set(errorCodes)) metrics.operationErrors.inc({ ...labels, code: isErrorCode(code) ? code : 'other' });
          if (usage && edge && response.body.kind === 'single')
            usage.record(
              edge,
              clientOf((header) => request.http?.headers.get(header)),
              durationMs,
              errorCodes.length > 0,
            );
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
