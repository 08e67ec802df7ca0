import { hash, verify } from '@node-rs/argon2';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. (2 is Algorithm.Argon2id, a const enum.)
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string) => hash(password, options);

// Verified against when the email is unknown, so that both failures take about as long.
const decoyHash = hash('decoy password that matches nothing', options);

/** True when `password` matches `passwordHash`; for a missing user it burns the same time and fails. */
export async function checkPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  const matches = await verify(passwordHash ?? (await decoyHash), password).catch(() => false);
  return passwordHash !== undefined && matches;
}
