import { z } from 'zod';
import { baseEnv, kafkaEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const analyticsEnv = {
  ...baseEnv,
  ANALYTICS_PORT: port(4004),
  ANALYTICS_HOST: z.string().default('127.0.0.1'),
  ACCOUNTS_INTERNAL_URL: z.url().default('http://127.0.0.1:4002'),
  ...kafkaEnv,
  /** The organization that runs the platform: its owners and admins may read the schema usage (operationUsage, fieldUsage, unusedFields). Unset: nobody may, through GraphQL. */
  PLATFORM_ORGANIZATION_ID: z.uuid().optional(),
  /** The persistence consumer's health routes. */
  CONSUMER_HEALTH_PORT: port(4013),
  /** Events the persistence consumer writes per statement. */
  CONSUMER_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(1_000),
};

export const env = loadEnvOrExit(analyticsEnv);
