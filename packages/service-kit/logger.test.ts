import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createLogger } from './logger.ts';

/** A log destination whose lines the test reads. */
function captured() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { destination, output: () => lines.join('') };
}

it('redacts passwords, tokens, keys, secrets and authorization headers at the usual depths', () => {
  const { destination, output } = captured();
  createLogger({ name: 'test', level: 'info', destination }).info({
    password: 'p1-secret',
    headers: { authorization: 'Bearer jwt-secret', 'x-api-key': 'mw_sk_key-secret' },
    variables: { input: { email: 'a@b.c', password: 'p2-secret', mfaCode: '123456' }, refreshToken: 'rt-secret' },
    result: { data: { login: { accessToken: 'at-secret' } } },
  });
  expect(output()).toContain('a@b.c');
  expect(output()).toContain('[redacted]');
  for (const secret of ['p1-secret', 'jwt-secret', 'key-secret', 'p2-secret', '123456', 'rt-secret', 'at-secret'])
    expect(output()).not.toContain(secret);
});

it('logs an error as its message, code and stack, not the objects it holds', () => {
  const { destination, output } = captured();
  // What pg attaches to a failed query: its client, with the pool, the socket and the config.
  const client = {
    connectionParameters: { password: 'db-secret' },
    queryQueue: Array.from({ length: 200 }, (_, i) => ({ text: `SELECT ${i}` })),
  };
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', port: 5432 });
  const error = Object.assign(new Error('Connection terminated unexpectedly', { cause }), { client, code: '57P01' });
  createLogger({ name: 'test', level: 'info', destination }).error({ err: error }, 'query failed');
  const line = JSON.parse(output()) as { err: { message: string; code: string; stack: string; cause: { code: string; port: number } } };
  expect(line.err).toMatchObject({
    message: 'Connection terminated unexpectedly',
    code: '57P01',
    cause: { code: 'ECONNREFUSED', port: 5432 },
  });
  expect(line.err.stack).toContain('Connection terminated');
  expect(output()).not.toContain('db-secret');
  expect(output()).not.toContain('queryQueue');
  expect(output().length).toBeLessThan(3_000);
});
