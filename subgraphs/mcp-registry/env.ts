import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const mcpRegistryEnv = {
  ...baseEnv,
  MCP_REGISTRY_PORT: port(4006),
  MCP_REGISTRY_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  /** The accounts subgraph, asked who belongs to which organization. */
  ACCOUNTS_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4002'),
};

export const env = loadEnvOrExit(mcpRegistryEnv);
