import { z } from 'zod';
import { baseEnv, flag, kafkaEnv, loadEnvOrExit, port, secretsKey } from '@mindweave/service-kit';

const plans = ['FREE', 'PRO', 'ENTERPRISE'] as const;
export type Plan = (typeof plans)[number];

/** Monthly token quota per plan, as JSON: `{"FREE":1000000,...}`. */
const planQuotas = z
  .string()
  .default('{"FREE":1000000,"PRO":100000000,"ENTERPRISE":10000000000}')
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.object(Object.fromEntries(plans.map((plan) => [plan, z.number().int().positive()])) as Record<Plan, z.ZodNumber>));

export const workersEnv = {
  ...baseEnv,
  /** /health/live and /health/ready of the worker process. */
  WORKERS_HEALTH_PORT: port(4014),
  WORKERS_HOST: z.string().default('127.0.0.1'),
  ...kafkaEnv,
  /** Asked for organizations' plans and members, and users' emails (signed service calls). */
  ACCOUNTS_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4002'),
  IDENTITY_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4001'),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().min(3).default('MindWeave <no-reply@mindweave.dev>'),
  /** The dashboard, linked from emails. */
  PUBLIC_APP_URL: z.url().default('http://localhost:3000'),
  PLAN_QUOTAS_JSON: planQuotas,
  /** Deliveries to private, loopback and link-local addresses are refused unless this is true (development and tests). */
  WEBHOOKS_ALLOW_PRIVATE: flag(false),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Deliveries in a row that fail every attempt before an endpoint is disabled. */
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).default(20),
  /** Opens the webhook signing secrets the webhooks subgraph sealed: the same keys as its own. */
  SECRETS_KEY: secretsKey,
  /** Where export files are written (the exports subgraph serves them from there). */
  EXPORTS_DIR: z.string().min(1).default('.mindweave/exports'),
  /** Days an export (its file and its job) is kept after it finished. */
  EXPORTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  /** Days a deleted organization's usage data is kept before the daily purge removes it. */
  DELETED_ORGANIZATION_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** Days the routers' operation usage is kept in the schema registry (schema check --usage-days reads it). */
  OPERATION_USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Overrides every queue's backoff base, in ms (tests and benchmarks). */
  JOBS_BACKOFF_MS: z.coerce.number().int().min(1).optional(),
  /** Events the worker takes from the bus at a time. */
  EVENTS_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(500),
};

export type WorkersEnv = z.infer<z.ZodObject<typeof workersEnv>>;

export const loadWorkersEnv = () => loadEnvOrExit(workersEnv);
