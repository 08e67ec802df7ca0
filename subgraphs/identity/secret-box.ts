import { createSecretBox } from '@mindweave/service-kit';
import { env } from './env.ts';

/** Seals what this subgraph must read back in clear: the token signing keys and TOTP seeds (README: Secrets at rest). */
export const secretBox = createSecretBox(env.SECRETS_KEY);
