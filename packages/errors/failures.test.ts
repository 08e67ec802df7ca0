import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isPassingFailure, neverSent } from './failures.ts';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isPassingFailure', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['PostgreSQL shutting down', withCode('57P01', 'terminating connection due to administrator command')],
    ['a PostgreSQL connection exception', withCode('08006')],
    ['too many connections', withCode('53300')],
    ['Prisma unable to reach the database', withCode('P1001')],
    ['pg losing its connection', new Error('Connection terminated unexpectedly')],
    ['pg asked to query on a connection it lost', new Error('Client has encountered a connection error and is not queryable')],
    ['ioredis giving up', Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' })],
    ['an abort by timeout', Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })],
    [
      'a cause two levels down',
      new Error('delivery failed', { cause: new Error('fetch failed', { cause: withCode('UND_ERR_CONNECT_TIMEOUT') }) }),
    ],
    ['one of an AggregateError', new AggregateError([withCode('ECONNREFUSED')], 'all attempts failed')],
    ['an ioredis command timeout', new Error('Command timed out')],
    ['PostgreSQL starting up', new Error('the database system is starting up')],
    ['what a resolver threw, inside a GraphQLError', new GraphQLError('boom', { originalError: withCode('ECONNRESET') })],
    // What Prisma 7 with @prisma/adapter-pg throws for a raw query while PostgreSQL refuses connections.
    [
      'a raw query that cannot reach the database',
      Object.assign(new Error('Raw query failed. Code: `N/A`.'), {
        code: 'P2010',
        meta: { cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 } },
      }),
    ],
    [
      'a query ended by a fast shutdown',
      Object.assign(new Error('Raw query failed.'), {
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'postgres', originalCode: '57P01' } } },
      }),
    ],
    ['too many connections (Prisma)', withCode('P2037')],
  ])('passes: %s', (_what, error) => expect(isPassingFailure(error)).toBe(true));

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a constraint the event breaks', withCode('23505', 'duplicate key value violates unique constraint')],
    ['invalid input', withCode('22P02', 'invalid input syntax for type uuid')],
    [
      'a raw query that breaks a constraint',
      Object.assign(new Error('Raw query failed.'), {
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'UniqueConstraintViolation' } } },
      }),
    ],
    ['a thrown string', 'nope'],
    ['nothing', undefined],
  ])('counts towards poison: %s', (_what, error) => expect(isPassingFailure(error)).toBe(false));
});

describe('neverSent', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    [
      'no connection in time, two levels down',
      new Error('fetch failed', { cause: new Error('x', { cause: withCode('UND_ERR_CONNECT_TIMEOUT') }) }),
    ],
    ['an unresolvable host', withCode('ENOTFOUND')],
    ['an unreachable host', withCode('EHOSTUNREACH')],
  ])('%s: the request never left', (_what, error) => {
    expect(neverSent(error)).toBe(true);
  });

  it.each([
    ['a reset', withCode('ECONNRESET')],
    ['a socket the other side closed', withCode('UND_ERR_SOCKET')],
    ['no answer in time', withCode('UND_ERR_HEADERS_TIMEOUT')],
    ['an abort by timeout', Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })],
    ['a bug', new TypeError('x is not a function')],
  ])('%s: the request may have been received', (_what, error) => {
    expect(neverSent(error)).toBe(false);
  });
});
