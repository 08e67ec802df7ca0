import type { ApolloServerPlugin } from '@apollo/server';
import { defaultRetryAfterSeconds, ErrorCode } from '@mindweave/errors';
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

/** No data came back at all: `data` is null, or every root field is null. */
const nothingAnswered = (data: Record<string, unknown> | null | undefined) =>
  data == null || Object.values(data).every((value) => value === null);

/**
 * A response whose errors say a dependency could not answer carries Retry-After; when nothing was
 * answered at all it is HTTP 503, as the contract's UNAVAILABLE is, so that clients and proxies can
 * tell "send it again" from a bug. Partial data stays 200: the rest of the answer is good.
 */
export const unavailablePlugin: ApolloServerPlugin<RouterContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const { data, errors } = response.body.singleResult;
        const retryAfter = retryAfterOf(errors);
        if (retryAfter === undefined) return;
        response.http.headers.set('retry-after', String(retryAfter));
        if (nothingAnswered(data)) response.http.status = 503;
      },
    };
  },
};
