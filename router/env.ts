import { z } from 'zod';
import { baseEnv, loadEnvOrExit, port } from '@mindweave/service-kit';

export const routerEnv = {
  ...baseEnv,
  PORT: port(4000),
  HOST: z.string().default('0.0.0.0'),
  SUPERGRAPH_PATH: z.string().default(new URL('../schema/supergraph.graphql', import.meta.url).pathname),
  /** Replaces routing URLs of the supergraph: `identity=http://10.0.0.5:4001/graphql,accounts=...`. */
  SUBGRAPH_URLS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const entries = value.split(',').filter(Boolean).map((pair) => pair.split('=', 2) as [string, string | undefined]);
      for (const [name, url] of entries) {
        if (!url || !URL.canParse(url)) ctx.addIssue({ code: 'custom', message: `"${name}" needs name=url with a valid URL` });
      }
      return new Map(entries.map(([name, url]) => [name, url ?? '']));
    }),
  IDENTITY_JWKS_URL: z.url().default('http://127.0.0.1:4001/.well-known/jwks.json'),
  ACCOUNTS_INTERNAL_URL: z.url().default('http://127.0.0.1:4002'),
  /** How long a resolved API key is cached in Redis; a revocation also evicts it at once. */
  API_KEY_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
};

export type RouterEnv = z.infer<z.ZodObject<typeof routerEnv>>;

export const loadRouterEnv = () => loadEnvOrExit(routerEnv);
