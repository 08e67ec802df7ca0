import type { IncomingMessage } from 'node:http';
import type { Redis } from 'ioredis';
import { createHealthRoutes, HealthCheckError, type HealthCheck } from '@mindweave/service-kit';

/** Another service's `/health`, reported with what it says of itself (its dependencies, a consumer's lag). */
function serviceHealth(url: string): HealthCheck {
  const healthUrl = new URL('/health', url);
  return async () => {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(1_500) });
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw new HealthCheckError(`answered ${response.status}`, body);
    return body;
  };
}

/**
 * The router's health routes. Ready as soon as it listens: it serves with what it holds (the
 * supergraph, cached signing keys and API keys, rate limits in memory) whatever else is down, so no
 * dependency makes it unready. `/health` lists Redis and every subgraph, consumer and worker with
 * its own report, and says `degraded` when one is down, so an operator sees a dead subgraph or a
 * consumer falling behind. The router's port is public: its errors (which name hosts) and the
 * other services' reports are shown only to `showDetails` callers, and a burst of requests runs
 * one round of checks.
 */
export function createRouterHealth(options: {
  redis: Redis;
  subgraphs: ReadonlyMap<string, string>;
  services: ReadonlyMap<string, string>;
  showDetails: (req: IncomingMessage) => boolean;
}) {
  const checks = new Map<string, HealthCheck>();
  const checkOf = (url: string) => {
    let check = checks.get(url);
    if (!check) checks.set(url, (check = serviceHealth(url)));
    return check;
  };
  return createHealthRoutes(
    'router',
    {},
    {
      showDetails: options.showDetails,
      // Read at each call: the gateway knows the subgraphs once the supergraph is loaded, and again after each change.
      optional: () => ({
        redis: () => options.redis.ping(),
        ...Object.fromEntries([...options.subgraphs, ...options.services].map(([name, url]) => [name, checkOf(url)])),
      }),
    },
  );
}
