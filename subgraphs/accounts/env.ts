import { z } from 'zod';
import { baseEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const accountsEnv = {
  ...baseEnv,
  ACCOUNTS_PORT: port(4002),
  ACCOUNTS_HOST: z.string().default('127.0.0.1'),
};

export const env = loadEnvOrExit(accountsEnv);
