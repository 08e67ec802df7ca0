import type { ApolloServerPlugin } from '@apollo/server';
import { defaultRetryAfterSeconds, ErrorCode, isOutcomeUnknown, outcomeUnknown } from '@mindweave/errors';
import type { RouterContext } from './context.ts';

type FormattedError = { extensions?: Record<string, unknown> };

/** Retry-After in seconds for the UNAVAILABLE errors of a result: the longest any of them asks; undefined without one. */
export function retryAfterOf(errors: readonly FormattedError[] | undefined): number | undefined {
  let longest: number | undefined;
  for (const error of errors ?? []) {
    if (error.extensions?.['code'] !== ErrorCode.UNAVAILABLE) continue;
    const asked = error.extensions['retryAfter'];
    const seconds = typeof asked === 'number' && asked > 0 ? asked : defaultRetryAfterSeconds;
    longest = Math.max(longest ?? 0, seconds);
  }
  return longest;
}

/** What the UNAVAILABLE errors of an operation whose mutation may have been carried out become. */
const { message: outcomeUnknownMessage, extensions: outcomeUnknownExtensions } = outcomeUnknown();

/** The HTTP heads (a batch's operations share one) that carry a mutation whose outcome is unknown. */
const unknownOutcomeHeads = new WeakSet<object>();

/** No data came back at all: `data` is null, or every root field is null. */
const nothingAnswered = (data: Record<string, unknown> | null | undefined) =>
  data == null || Object.values(data).every((value) => value === null);

/**
 * A response whose errors say a dependency could not answer carries Retry-After; when nothing was
 * answered at all it is HTTP 503, as the contract's UNAVAILABLE is, so that clients and proxies can
 * tell "send it again" from a bug. Partial data stays 200: the rest of the answer is good.
 *
 * UNAVAILABLE promises that nothing was decided, which no longer holds once a mutation of the
 * operation may have been carried out (subgraph-source.ts records it): its UNAVAILABLE errors (a
 * later fetch's, another root field's) become outcomeUnknown's, and a response with nothing else
 * answered is HTTP 502 without Retry-After. Clients check before sending it again, unless it is
 * idempotent.
 */
export const unavailablePlugin: ApolloServerPlugin<RouterContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (response.body.kind !== 'single') return;
        const result = response.body.singleResult;
        if (result.errors && contextValue.mutationMayHaveRun)
          result.errors = result.errors.map((error) =>
            error.extensions?.['code'] === ErrorCode.UNAVAILABLE
              ? { ...error, message: outcomeUnknownMessage, extensions: outcomeUnknownExtensions }
              : error,
          );
        const { data, errors } = result;
        // The operations of a batch share one HTTP head, and finish in any order: once one of them
        // may have been carried out, the head never says "send it again".
        if (errors?.some(isOutcomeUnknown)) {
          unknownOutcomeHeads.add(response.http);
          response.http.headers.delete('retry-after');
          if (nothingAnswered(data) || response.http.status === 503) response.http.status = 502;
          return;
        }
        if (unknownOutcomeHeads.has(response.http)) return;
        const retryAfter = retryAfterOf(errors);
        if (retryAfter === undefined) return;
        response.http.headers.set('retry-after', String(retryAfter));
        if (nothingAnswered(data)) response.http.status = 503;
      },
    };
  },
};
