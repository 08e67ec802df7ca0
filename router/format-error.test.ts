import { expect, it } from 'vitest';
import { outcomeUnknown } from '@mindweave/errors';
import { formatError, requestIdOnInternalErrors } from './format-error.ts';

it("keeps a failed subgraph fetch's URL, body, stack and service out of production answers", () => {
  const failed = {
    message: '500: Internal Server Error',
    path: ['organization'],
    extensions: {
      code: 'DOWNSTREAM_SERVICE_ERROR',
      serviceName: 'accounts',
      stacktrace: ['at fetch'],
      response: { url: 'http://10.0.3.7:4002/graphql', status: 500, body: 'pg: relation missing' },
    },
  };
  expect(formatError(false)(failed)).toEqual({
    message: 'Internal server error',
    path: ['organization'],
    locations: undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
  expect(formatError(true)(failed).extensions).toMatchObject({
    code: 'INTERNAL_SERVER_ERROR',
    serviceName: 'accounts',
    response: { url: 'http://10.0.3.7:4002/graphql' },
  });
  const unavailable = {
    message: 'A service this request needs cannot answer right now; retry shortly',
    extensions: { code: 'UNAVAILABLE', retryAfter: 5, serviceName: 'usage' },
  };
  expect(formatError(false)(unavailable)).toMatchObject({
    message: unavailable.message,
    extensions: { code: 'UNAVAILABLE', retryAfter: 5 },
  });
});

it("maps Apollo Server's own codes onto the contract's", () => {
  expect(formatError(false)({ message: 'm', extensions: { code: 'BAD_REQUEST' } }).extensions?.['code']).toBe('BAD_USER_INPUT');
  expect(formatError(false)({ message: 'm', extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } }).extensions?.['code']).toBe(
    'PERSISTED_QUERY_NOT_FOUND',
  );
});

it('adds the request id to internal errors only', async () => {
  const result = {
    errors: [
      { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      { message: 'no', extensions: { code: 'FORBIDDEN' } },
    ],
  };
  const listener = await requestIdOnInternalErrors.requestDidStart!({ contextValue: { requestId: 'r-1' } } as never);
  await listener!.willSendResponse!({ response: { body: { kind: 'single', singleResult: result } } } as never);
  expect(result.errors).toEqual([
    { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'r-1' } },
    { message: 'no', extensions: { code: 'FORBIDDEN' } },
  ]);
});

it("shows the router's own word that a mutation's outcome is unknown, and no other internal error's message", () => {
  const { message, extensions } = outcomeUnknown();
  expect(formatError(false)({ message, extensions }).message).toBe(message);
  // A subgraph's internal error that borrows the extension keeps its message hidden.
  expect(formatError(false)({ message: 'pg: relation missing', extensions }).message).toBe('Internal server error');
});
