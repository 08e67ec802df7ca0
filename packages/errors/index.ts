import { GraphQLError } from 'graphql';

export { isPassingFailure, neverSent } from './failures.ts';

/** The contract's `extensions.code` values: every error a client sees carries one of these. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  COST_LIMIT_EXCEEDED: 'COST_LIMIT_EXCEEDED',
  POLICY_VIOLATION: 'POLICY_VIOLATION',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_ALLOWED: 'PERSISTED_QUERY_NOT_ALLOWED',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes = new Set<string>(Object.values(ErrorCode));
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && knownCodes.has(value);
}

/** HTTP status for a request that fails as a whole with this code. */
export const httpStatusOf: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  COST_LIMIT_EXCEEDED: 400,
  POLICY_VIOLATION: 403,
  PERSISTED_QUERY_NOT_FOUND: 200,
  PERSISTED_QUERY_NOT_ALLOWED: 400,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

/** An expected failure: its message and extensions are safe to show to the client. */
export class MindweaveError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.code = code;
    this.name = 'MindweaveError';
  }
}

/** Seconds a client is told to wait before sending again what a dependency outage refused. */
export const defaultRetryAfterSeconds = 5;

/**
 * A dependency could not answer, so nothing was decided and the same request may be sent again:
 * `extensions.retryAfter` says when. The router answers it with HTTP 503 and Retry-After.
 */
export const unavailable = (message: string, retryAfterSeconds = defaultRetryAfterSeconds) =>
  new MindweaveError(ErrorCode.UNAVAILABLE, message, { retryAfter: retryAfterSeconds });

/** What a client is told when a dependency of the request (a database, Redis, another service) could not answer. */
export const dependencyUnavailable = () => unavailable('A service this request needs cannot answer right now; retry shortly');

const outcomeUnknownMessage = 'This mutation may have been carried out, but its answer was lost: check before sending it again';
/**
 * A mutation that may have been carried out although its answer was lost (a service failed after
 * receiving it): not UNAVAILABLE, which promises that nothing was decided. `extensions.outcome`
 * says so; the router answers it with HTTP 502 when nothing else was answered. The client checks
 * before sending it again, unless it is idempotent (usage events with idempotency keys).
 */
export const outcomeUnknown = () => new MindweaveError(ErrorCode.INTERNAL_SERVER_ERROR, outcomeUnknownMessage, { outcome: 'unknown' });

/** Whether a formatted error is outcomeUnknown's (its message too: no other internal error's is shown). */
export const isOutcomeUnknown = (error: { message: string; extensions?: Record<string, unknown> | undefined }) =>
  error.extensions?.['code'] === ErrorCode.INTERNAL_SERVER_ERROR &&
  error.extensions['outcome'] === 'unknown' &&
  error.message === outcomeUnknownMessage;

export const unauthenticated = (message = 'Authentication required') => new MindweaveError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message = 'Not allowed') => new MindweaveError(ErrorCode.FORBIDDEN, message);
/** `field` is the input path of the offending value, e.g. `input.email`. */
export const badUserInput = (message: string, field?: string) =>
  new MindweaveError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const notFound = (what: string) => new MindweaveError(ErrorCode.NOT_FOUND, `${what} not found`);
export const conflict = (message: string, field?: string) => new MindweaveError(ErrorCode.CONFLICT, message, field ? { field } : {});
export const rateLimited = (retryAfterSeconds: number) =>
  new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many requests', { retryAfter: retryAfterSeconds });
export const internalError = (requestId?: string) =>
  new MindweaveError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error', requestId ? { requestId } : {});

/** The GraphQL-over-HTTP error body for a request refused before execution. */
export function errorBody(error: MindweaveError) {
  return { errors: [{ message: error.message, extensions: error.extensions }] };
}
