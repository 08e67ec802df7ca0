import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, isErrorCode, isOutcomeUnknown } from '@mindweave/errors';
import type { RouterContext } from './context.ts';

// Apollo Server's own codes, mapped onto the contract's.
const apolloCodes: Record<string, ErrorCode> = {
  BAD_REQUEST: ErrorCode.BAD_USER_INPUT,
  OPERATION_RESOLUTION_FAILURE: ErrorCode.BAD_USER_INPUT,
  PERSISTED_QUERY_NOT_SUPPORTED: ErrorCode.PERSISTED_QUERY_NOT_FOUND,
};

/** Every error leaves with a contract code; internals are hidden outside development. */
export function formatError(development: boolean) {
  return (formatted: GraphQLFormattedError): GraphQLFormattedError => {
    const raw = formatted.extensions?.['code'];
    const code = isErrorCode(raw) ? raw : (apolloCodes[String(raw)] ?? ErrorCode.INTERNAL_SERVER_ERROR);
    // `response` is what a failed subgraph fetch answered: its internal URL and body.
    const { stacktrace, serviceName, response, ...extensions } = formatted.extensions ?? {};
    if (development) return { ...formatted, extensions: { ...extensions, code, serviceName, stacktrace, response } };
    // Internal errors' messages are hidden, but for the router's own word that a mutation's outcome is unknown.
    const message = code === ErrorCode.INTERNAL_SERVER_ERROR && !isOutcomeUnknown(formatted) ? 'Internal server error' : formatted.message;
    return { message, locations: formatted.locations, path: formatted.path, extensions: { ...extensions, code } };
  };
}

/** Internal errors keep the request id, so that a client's report leads to the logs. */
export const requestIdOnInternalErrors: ApolloServerPlugin<RouterContext> = {
  async requestDidStart({ contextValue }) {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const result = response.body.singleResult;
        if (!result.errors?.some((e) => e.extensions?.['code'] === ErrorCode.INTERNAL_SERVER_ERROR)) return;
        result.errors = result.errors.map((e) =>
          e.extensions?.['code'] === ErrorCode.INTERNAL_SERVER_ERROR
            ? { ...e, extensions: { ...e.extensions, requestId: contextValue.requestId } }
            : e,
        );
      },
    };
  },
};
