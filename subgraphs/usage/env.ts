import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const usageEnv = {
  ...baseEnv,
  USAGE_PORT: port(4003),
  USAGE_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  GOVERNANCE_INTERNAL_URL: z.url().default('http://127.0.0.1:4005'),
  /** How long an idempotency key is remembered. */
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(86_400),
};

export const env = loadEnvOrExit(usageEnv);
