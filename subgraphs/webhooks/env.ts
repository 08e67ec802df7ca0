import { z } from 'zod';
import { baseEnv, flag, kafkaEnv, loadEnvOrExit, port, secretsKey } from '@mindweave/service-kit';

export const webhooksEnv = {
  ...baseEnv,
  WEBHOOKS_PORT: port(4008),
  WEBHOOKS_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  /** The accounts subgraph, asked who belongs to which organization. */
  ACCOUNTS_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4002'),
  /** Endpoints on private, loopback and link-local addresses are refused unless this is true (development and tests). */
  WEBHOOKS_ALLOW_PRIVATE: flag(false),
  /** Seals the endpoints' signing secrets; the workers need the same keys to open them. */
  SECRETS_KEY: secretsKey,
};

export const env = loadEnvOrExit(webhooksEnv);
