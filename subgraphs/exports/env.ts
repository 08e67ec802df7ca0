import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const exportsEnv = {
  ...baseEnv,
  EXPORTS_PORT: port(4007),
  EXPORTS_HOST: z.string().default('127.0.0.1'),
  /** The accounts subgraph, asked who belongs to which organization. */
  ACCOUNTS_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4002'),
  ...kafkaEnv,
  /** Where export files are kept (storage.ts); the workers write there too. */
  EXPORTS_DIR: z.string().min(1).default('.mindweave/exports'),
  /** Key of the download URLs' signatures; INTERNAL_SIGNING_SECRET when unset. */
  EXPORTS_URL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How long a download URL works. */
  EXPORTS_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(900),
  /** The router, which serves downloads at /exports/<id>/download. */
  EXPORTS_PUBLIC_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:4000'),
};

export const env = loadEnvOrExit(exportsEnv);
