import type { ApolloServerPlugin } from '@apollo/server';
import type { RouterContext } from './context.ts';

/** One log line per operation; variables only at debug level, through the logger's redaction. */
export function operationLogPlugin(): ApolloServerPlugin<RouterContext> {
  return {
    async requestDidStart({ contextValue, request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, operationName, errors }) {
          const { log, identity } = contextValue;
          const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const errorCodes = (errors ?? result?.errors ?? []).map((e) => ('extensions' in e ? e.extensions?.['code'] : undefined));
          log.info(
            {
              operationName: operationName ?? request.operationName,
              identity: identity.kind,
              durationMs: Math.round((performance.now() - started) * 100) / 100,
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
