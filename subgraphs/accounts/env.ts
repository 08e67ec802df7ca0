import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const accountsEnv = {
  ...baseEnv,
  ACCOUNTS_PORT: port(4002),
  ACCOUNTS_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  /** Where users' emails are asked for (accepting an invitation needs the caller's). */
  IDENTITY_INTERNAL_URL: z.url().default('http://127.0.0.1:4001'),
  /** How long a rotated API key's previous secret keeps working (24 h). */
  API_KEY_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).default(86_400),
};

export const env = loadEnvOrExit(accountsEnv);
