import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createLogger } from './logger.ts';

it('redacts passwords, tokens, keys, secrets and authorization headers at the usual depths', () => {
  let output = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      output += String(chunk);
      done();
    },
  });
  createLogger({ name: 'test', level: 'info', destination }).info({
    password: 'p1-secret',
    headers: { authorization: 'Bearer jwt-secret', 'x-api-key': 'mw_sk_key-secret' },
    variables: { input: { email: 'a@b.c', password: 'p2-secret', mfaCode: '123456' }, refreshToken: 'rt-secret' },
    result: { data: { login: { accessToken: 'at-secret' } } },
  });
  expect(output).toContain('a@b.c');
  expect(output).toContain('[redacted]');
  for (const secret of ['p1-secret', 'jwt-secret', 'key-secret', 'p2-secret', '123456', 'rt-secret', 'at-secret']) expect(output).not.toContain(secret);
});
