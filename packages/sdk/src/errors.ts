import type { GraphQLFormattedError } from 'graphql';

/** The contract's `extensions.code` values (the server's registry is packages/errors; a test keeps the two equal). */
export const errorCodes = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'COST_LIMIT_EXCEEDED',
  'POLICY_VIOLATION',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_ALLOWED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

const isErrorCode = (value: unknown): value is ErrorCode => (errorCodes as readonly unknown[]).includes(value);

export interface MindWeaveErrorDetails {
  code: ErrorCode;
  path?: readonly (string | number)[] | undefined;
  extensions?: Readonly<Record<string, unknown>>;
  /** The HTTP status of the response; undefined over WebSocket. */
  status?: number | undefined;
  /** The router's `x-request-id`, to quote when asking for help. */
  requestId?: string | undefined;
  /** Every error of the response, this one first. */
  errors?: readonly GraphQLFormattedError[];
  /** What data the response carried besides its errors. */
  data?: unknown;
}

/** An error the supergraph answered with, carrying one of the contract's codes. */
export class MindWeaveError extends Error {
  readonly code: ErrorCode;
  readonly path: readonly (string | number)[] | undefined;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly errors: readonly GraphQLFormattedError[];
  readonly data: unknown;

  constructor(message: string, details: MindWeaveErrorDetails) {
    super(message);
    this.name = 'MindWeaveError';
    this.code = details.code;
    this.path = details.path;
    this.extensions = details.extensions ?? { code: details.code };
    this.status = details.status;
    this.requestId = details.requestId;
    this.errors = details.errors ?? [];
    this.data = details.data;
  }
}

/** The first of a response's GraphQL errors as a MindWeaveError (an unknown code reads as INTERNAL_SERVER_ERROR). */
export function fromGraphQLErrors(
  errors: readonly GraphQLFormattedError[],
  response: { status?: number | undefined; requestId?: string | undefined; data?: unknown } = {},
): MindWeaveError {
  const [first] = errors;
  const extensions = first?.extensions ?? {};
  const code = extensions['code'];
  return new MindWeaveError(first?.message ?? 'Unknown error', {
    code: isErrorCode(code) ? code : 'INTERNAL_SERVER_ERROR',
    path: first?.path,
    extensions,
    status: response.status,
    requestId: response.requestId,
    errors,
    data: response.data,
  });
}

const codeOfStatus: Record<number, ErrorCode> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'BAD_USER_INPUT',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/** A response without GraphQL errors that still failed (a proxy's 502 page, an empty 429...). */
export function fromHttpStatus(status: number, requestId?: string): MindWeaveError {
  return new MindWeaveError(`HTTP ${status}`, { code: codeOfStatus[status] ?? 'INTERNAL_SERVER_ERROR', status, requestId });
}

const codeOfCloseCode: Record<number, ErrorCode> = {
  4400: 'BAD_USER_INPUT',
  4401: 'UNAUTHENTICATED',
  4403: 'UNAUTHENTICATED', // the router closes with 4403 when connection_init's credentials are refused
  4429: 'RATE_LIMITED',
};

/** What graphql-ws hands a sink's error callback: GraphQL errors, a CloseEvent, or an Error. */
export function fromSubscriptionError(error: unknown): Error {
  if (Array.isArray(error)) return fromGraphQLErrors(error as GraphQLFormattedError[]);
  if (error instanceof Error) return error;
  const close = error as { code?: unknown; reason?: unknown };
  if (typeof close?.code === 'number') {
    const message = `WebSocket closed with ${close.code}${typeof close.reason === 'string' && close.reason ? `: ${close.reason}` : ''}`;
    const code = codeOfCloseCode[close.code];
    return code ? new MindWeaveError(message, { code, extensions: { code, closeCode: close.code } }) : new Error(message);
  }
  return new Error(String(error));
}
