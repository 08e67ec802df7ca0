import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * A service's Prometheus registry, answered on `GET /metrics`: Node's default metrics under their
 * standard names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`...: stock Node
 * dashboards work). Which service a series comes from is the scrape's `job` label, as Prometheus
 * adds it. Nothing is polled: gauges are read when Prometheus scrapes (`atScrape`), so a process
 * nobody scrapes pays only for its counters and histograms.
 */
export function createServiceMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Each reading taken at scrape time, for `mw_metrics_collector_up`: whether it answered in time.
  const readings = new Map<string, () => Promise<{ ok: boolean }>>();
  new Gauge({
    name: 'mw_metrics_collector_up',
    help: 'Whether a reading taken at scrape time (consumer lag, queue depths) answered within its timeout',
    labelNames: ['collector'],
    registers: [registry],
    async collect() {
      for (const [collector, reading] of readings) this.set({ collector }, (await reading()).ok ? 1 : 0);
    },
  });

  return {
    registry,
    /** Answers `GET /metrics` and returns true when it was that route. No credentials, like the router's: no label names a tenant. */
    async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
    /**
     * `read` as the gauges of one collector see it during a scrape: every gauge of the scrape shares
     * one call, a call still in flight is joined rather than repeated (a Redis that is down must not
     * collect a queue of them), and past `timeoutMs` the scrape goes on without it (undefined, and
     * `mw_metrics_collector_up{collector}` 0) instead of hanging.
     */
    atScrape<T>(collector: string, read: () => Promise<T>, timeoutMs = 2_000): () => Promise<T | undefined> {
      let call: Promise<T> | undefined;
      let sample: { result: Promise<{ ok: boolean; value?: T }>; settledAt?: number } | undefined;
      const reading = () => {
        // Gauges of one scrape ask within milliseconds of each other; the next scrape comes seconds later.
        if (sample && (sample.settledAt === undefined || performance.now() - sample.settledAt < 1_000)) return sample.result;
        call ??= read().finally(() => (call = undefined));
        const current: NonNullable<typeof sample> = {
          result: within(timeoutMs, call).then(
            (value) => ({ ok: true, value }),
            () => ({ ok: false }),
          ),
        };
        void current.result.then(() => (current.settledAt = performance.now()));
        sample = current;
        return current.result;
      };
      readings.set(collector, reading);
      return async () => (await reading()).value;
    },
  };
}

export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Client-chosen values (operation names) as a label of bounded cardinality: the first `max`
 * distinct values keep their name, later ones and overlong ones are `other`, a missing one `anonymous`.
 */
export function boundedLabel(max: number, maxLength = 100) {
  const seen = new Set<string>();
  return (value: string | null | undefined): string => {
    if (!value) return 'anonymous';
    if (seen.has(value)) return value;
    if (seen.size >= max || value.length > maxLength) return 'other';
    seen.add(value);
    return value;
  };
}
