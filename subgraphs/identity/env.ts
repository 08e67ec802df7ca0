import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port, secretsKey } from '@mindweave/service-kit';

export const identityEnv = {
  ...baseEnv,
  IDENTITY_PORT: port(4001),
  IDENTITY_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  /** Lifetime of access tokens; short, since they cannot be revoked. */
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Where links in verification and reset emails point. */
  PUBLIC_APP_URL: z.url().default('http://localhost:3000'),
  SECRETS_KEY: secretsKey,
};

export const env = loadEnvOrExit(identityEnv);
