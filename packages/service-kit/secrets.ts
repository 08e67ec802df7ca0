import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from './logger.ts';

// Secrets that a service must read back in clear (access-token signing keys, TOTP seeds, webhook
// signing secrets) are stored sealed with AES-256-GCM under SECRETS_KEY, so that a copy of the
// database, or of a backup, does not give them away without the services' environment.

const version = 'sealed:v1:';

/** Used outside production only; `parseEnv` refuses it in production. */
export const developmentSecretsKey = createHash('sha256').update('mindweave development-only secrets key').digest('base64');

/**
 * `SECRETS_KEY`: one or more keys, each the base64 of 32 random bytes (`openssl rand -base64 32`),
 * comma-separated. The first seals; every one opens, which is how a key is rotated.
 */
export const secretsKey = z
  .string()
  .default(developmentSecretsKey)
  .transform((value, ctx) => {
    const keys = value.split(',').map((part) => Buffer.from(part.trim(), 'base64'));
    if (keys.some((key) => key.length !== 32)) {
      ctx.addIssue({ code: 'custom', message: 'must be base64 keys of 32 bytes each, comma-separated (openssl rand -base64 32)' });
      return z.NEVER;
    }
    return keys;
  });

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('base64url').slice(0, 8);

export interface SecretBox {
  /** `sealed:v1:<key id>:<iv>:<ciphertext>:<tag>`. `purpose` is bound in, so one kind of secret cannot be passed off as another. */
  seal(plaintext: string, purpose: string): string;
  /** The plaintext. A value stored before sealing existed is returned as it is, until it is resealed. */
  open(stored: string, purpose: string): string;
  /** What every value sealed with the current key starts with: anything else wants resealing. */
  currentPrefix: string;
}

export function createSecretBox(keys: Buffer[]): SecretBox {
  const [current, ...older] = keys;
  if (!current) throw new Error('a secret box needs at least one key');
  const byId = new Map([current, ...older].map((key) => [keyIdOf(key), key]));
  const currentPrefix = `${version}${keyIdOf(current)}:`;
  return {
    currentPrefix,
    seal(plaintext, purpose) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv).setAAD(Buffer.from(purpose));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${currentPrefix}${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
    },
    open(stored, purpose) {
      if (!stored.startsWith(version)) return stored;
      const [keyId, iv, ciphertext, tag] = stored.slice(version.length).split(':');
      const key = byId.get(keyId ?? '');
      if (!key) throw new Error(`a secret was sealed with key ${keyId}, which SECRETS_KEY does not hold`);
      if (!iv || ciphertext === undefined || !tag) throw new Error('a sealed secret is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(purpose));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * Seals, with the current key, every stored value that is still in clear or sealed with an older
 * key, a batch at a time, and logs what it did. `save` should write only if the row still holds
 * the value it was given, so that instances starting together do not overwrite each other's work.
 */
export async function resealSecrets<Row extends { id: string; stored: string }>(options: {
  box: SecretBox;
  purpose: string;
  log: Logger;
  /** Up to `limit` rows whose value does not start with `currentPrefix`, after `afterId` in id order. */
  stale: (currentPrefix: string, afterId: string | undefined, limit: number) => Promise<Row[]>;
  save: (row: Row, sealed: string) => Promise<void>;
}): Promise<{ resealed: number; unreadable: string[] }> {
  const { box, purpose } = options;
  const result = { resealed: 0, unreadable: [] as string[] };
  let afterId: string | undefined;
  for (;;) {
    const rows = await options.stale(box.currentPrefix, afterId, 500);
    for (const row of rows) {
      let plaintext: string;
      try {
        plaintext = box.open(row.stored, purpose);
      } catch {
        // Sealed with a key that was dropped too early: the row stays as it is, for an operator.
        result.unreadable.push(row.id);
        continue;
      }
      await options.save(row, box.seal(plaintext, purpose));
      result.resealed++;
    }
    if (rows.length < 500) break;
    afterId = rows.at(-1)?.id;
  }
  if (result.resealed) options.log.info({ purpose, resealed: result.resealed }, 'secrets resealed with the current SECRETS_KEY');
  if (result.unreadable.length)
    options.log.error(
      { purpose, rows: result.unreadable },
      'secrets sealed with a key SECRETS_KEY no longer holds: add it back after the first key',
    );
  return result;
}
