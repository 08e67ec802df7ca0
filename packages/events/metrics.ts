import { Gauge } from 'prom-client';
import type { ServiceMetrics } from '@mindweave/service-kit';
import type { ConsumerLag } from './bus.ts';
import { topicOf } from './events.ts';

/**
 * A consumer group's lag, pending and dead-lettered counts per stream (Redis) or topic (Kafka),
 * asked of the log when /metrics is scraped, within `timeoutMs`: a log that does not answer leaves
 * the gauges out of that scrape (and `mw_metrics_collector_up{collector="consumer_lag"}` at 0).
 */
export function observeConsumerLag(metrics: ServiceMetrics, subscription: { lag(): Promise<ConsumerLag[]> }, timeoutMs = 2_000) {
  const read = metrics.atScrape('consumer_lag', () => subscription.lag(), timeoutMs);
  const gauge = (name: string, help: string, pick: (lag: ConsumerLag) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['group', 'stream'],
      registers: [metrics.registry],
      async collect() {
        const lags = await read();
        this.reset();
        for (const lag of lags ?? []) {
          const value = pick(lag);
          if (value !== null) this.set({ group: lag.group, stream: topicOf(lag.domain) }, value);
        }
      },
    });
  gauge(
    'mw_consumer_lag',
    'Entries (Redis Streams: each of up to 100 events) or events (Kafka) not yet delivered to the consumer group',
    (lag) => lag.lag,
  );
  gauge('mw_consumer_pending', 'Delivered to the group and not yet acknowledged (Redis Streams only)', (lag) => lag.pending);
  gauge('mw_consumer_dead_lettered', "Events in the stream's dead-letter stream or topic", (lag) => lag.deadLettered);
}
