import type { HTTPGraphQLResponse } from '@apollo/server';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo } from './context.ts';
import type { RouterEnv } from './env.ts';

/**
 * The Cache-Control of a GET persisted query's answer: public for anonymous callers of public root
 * fields (PUBLIC_CACHE_FIELDS), private for a short while otherwise; never stored when it is not a
 * query or the answer has errors.
 */
export function cacheControlOf(
  env: Pick<RouterEnv, 'PUBLIC_CACHE_FIELDS' | 'PUBLIC_CACHE_MAX_AGE_SECONDS'>,
  kind: Identity['kind'],
  info: EdgeInfo | undefined,
  response: Pick<HTTPGraphQLResponse, 'status' | 'body'>,
): string {
  if (
    info?.operation.operation.operation !== 'query' ||
    (response.status ?? 200) !== 200 ||
    response.body.kind !== 'complete' ||
    response.body.string.includes('"errors"')
  )
    return 'no-store';
  const publicFields = info.operation.rootFields.every((field) => env.PUBLIC_CACHE_FIELDS.has(field));
  return kind === 'anonymous' && publicFields
    ? `public, max-age=${env.PUBLIC_CACHE_MAX_AGE_SECONDS}`
    : 'private, max-age=0, must-revalidate';
}
