import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { baseEnv, parseEnv } from './config.ts';
import { createLogger } from './logger.ts';
import { createSecretBox, developmentSecretsKey, resealSecrets, secretsKey } from './secrets.ts';

const newKey = () => randomBytes(32);

describe('createSecretBox', () => {
  it('seals so that the stored value holds no trace of the secret, and opens it again', () => {
    const box = createSecretBox([newKey()]);
    const sealed = box.seal('whsec_abc', 'webhook secret');
    expect(sealed.startsWith(box.currentPrefix)).toBe(true);
    expect(sealed).not.toContain('whsec_abc');
    expect(box.seal('whsec_abc', 'webhook secret')).not.toBe(sealed); // a new IV every time
    expect(box.open(sealed, 'webhook secret')).toBe('whsec_abc');
  });

  it('refuses a tampered value, another purpose and a key it does not hold', () => {
    const box = createSecretBox([newKey()]);
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'totp seed');
    const parts = sealed.split(':');
    const ciphertext = Buffer.from(parts[4]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[4] = ciphertext.toString('base64url');
    expect(() => box.open(parts.join(':'), 'totp seed')).toThrow();
    expect(() => box.open(sealed, 'webhook secret')).toThrow();
    expect(() => createSecretBox([newKey()]).open(sealed, 'totp seed')).toThrow(/does not hold/);
  });

  it('opens with older keys after a rotation, and passes values stored before sealing through', () => {
    const oldKey = newKey();
    const sealedBefore = createSecretBox([oldKey]).seal('secret', 'p');
    const rotated = createSecretBox([newKey(), oldKey]);
    expect(rotated.open(sealedBefore, 'p')).toBe('secret');
    expect(sealedBefore.startsWith(rotated.currentPrefix)).toBe(false);
    expect(rotated.open('whsec_legacy', 'p')).toBe('whsec_legacy');
  });
});

describe('resealSecrets', () => {
  it('seals values in clear or under an older key, skips unreadable ones and pages past them', async () => {
    const oldKey = newKey();
    const box = createSecretBox([newKey(), oldKey]);
    const rows = new Map<string, string>([
      ['a', 'plain secret'],
      ['b', createSecretBox([oldKey]).seal('old secret', 'p')],
      ['c', box.seal('current secret', 'p')],
      ['d', createSecretBox([newKey()]).seal('lost secret', 'p')],
      ...Array.from({ length: 600 }, (_, i) => [`e${String(i).padStart(3, '0')}`, `plain ${i}`] as [string, string]),
    ]);
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const result = await resealSecrets({
      box,
      purpose: 'p',
      log: createLogger({ name: 'test', level: 'info', destination }),
      stale: async (prefix, afterId, limit) =>
        [...rows]
          .filter(([id, stored]) => !stored.startsWith(prefix) && (afterId === undefined || id > afterId))
          .sort(([x], [y]) => x.localeCompare(y))
          .slice(0, limit)
          .map(([id, stored]) => ({ id, stored })),
      save: async (row, sealed) => void rows.set(row.id, sealed),
    });
    expect(result).toEqual({ resealed: 602, unreadable: ['d'] });
    // An operator is told which rows need which key back.
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, purpose: 'p', resealed: 602 }),
      expect.objectContaining({ level: 50, purpose: 'p', rows: ['d'], msg: expect.stringContaining('SECRETS_KEY no longer holds') }),
    ]);
    expect(box.open(rows.get('a')!, 'p')).toBe('plain secret');
    expect(box.open(rows.get('b')!, 'p')).toBe('old secret');
    expect(box.open(rows.get('e599')!, 'p')).toBe('plain 599');
    expect([...rows].filter(([, stored]) => !stored.startsWith(box.currentPrefix)).map(([id]) => id)).toEqual(['d']);
  });
});

describe('SECRETS_KEY', () => {
  const shape = { ...baseEnv, SECRETS_KEY: secretsKey };
  const production = { NODE_ENV: 'production', INTERNAL_SIGNING_SECRET: 's'.repeat(40) };

  it('takes comma-separated base64 keys of 32 bytes, the first one sealing', () => {
    const [a, b] = [newKey(), newKey()];
    const env = parseEnv(shape, { SECRETS_KEY: `${a.toString('base64')}, ${b.toString('base64')}` });
    expect(env.SECRETS_KEY).toEqual([a, b]);
    expect(() => parseEnv(shape, { SECRETS_KEY: 'c2hvcnQ=' })).toThrow(/32 bytes/);
  });

  it('must be set in production, and not to the development key', () => {
    expect(() => parseEnv(shape, production)).toThrow(/SECRETS_KEY: must be set in production/);
    expect(() => parseEnv(shape, { ...production, SECRETS_KEY: developmentSecretsKey })).toThrow(/SECRETS_KEY/);
    const asBase64url = Buffer.from(developmentSecretsKey, 'base64').toString('base64url');
    expect(() => parseEnv(shape, { ...production, SECRETS_KEY: asBase64url })).toThrow(/SECRETS_KEY: must be set in production/);
    const key = newKey().toString('base64');
    expect(parseEnv(shape, { ...production, SECRETS_KEY: `${key},${developmentSecretsKey}` }).SECRETS_KEY).toHaveLength(2);
    // Services that hold no secrets do not need it.
    expect(parseEnv(baseEnv, production).NODE_ENV).toBe('production');
  });
});
