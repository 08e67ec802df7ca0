import { expect, it } from 'vitest';
import { formatError } from './server.ts';

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
