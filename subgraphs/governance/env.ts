import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const governanceEnv = {
  ...baseEnv,
  GOVERNANCE_PORT: port(4005),
  GOVERNANCE_HOST: z.string().default('127.0.0.1'),
  ACCOUNTS_INTERNAL_URL: z.url().default('http://127.0.0.1:4002'),
  ...kafkaEnv,
  /** The audit consumer's health routes. */
  GOVERNANCE_CONSUMER_HEALTH_PORT: port(4015),
};

export const env = loadEnvOrExit(governanceEnv);
