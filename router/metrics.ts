import { Counter, Gauge, Histogram } from 'prom-client';
import { boundedLabel, createServiceMetrics } from '@mindweave/service-kit';

/** The router's Prometheus metrics, served on /metrics with Node's default ones (service-kit). */
export function createMetrics() {
  const service = createServiceMetrics();
  const registry = service.registry;
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const costBuckets = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
  const metrics = {
    registry,
    /** Answers GET /metrics. */
    handle: service.handle,
    requestDuration: new Histogram({
      name: 'mw_router_operation_duration_seconds',
      help: 'GraphQL operations by name',
      labelNames: ['operation', 'type'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    subgraphDuration: new Histogram({
      name: 'mw_router_subgraph_fetch_duration_seconds',
      help: 'Fetches to subgraphs',
      labelNames: ['subgraph', 'operation'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    estimatedCost: new Histogram({
      name: 'mw_router_operation_estimated_cost',
      help: 'Static cost estimate of each operation',
      labelNames: ['operation'],
      buckets: costBuckets,
      registers: [registry],
    }),
    actualCost: new Histogram({
      name: 'mw_router_operation_actual_cost',
      help: 'Cost measured on the response (real list sizes)',
      labelNames: ['operation'],
      buckets: costBuckets,
      registers: [registry],
    }),
    operationErrors: new Counter({
      name: 'mw_router_operation_errors_total',
      help: 'Operations answered with errors, once per operation and error code',
      labelNames: ['operation', 'type', 'code'],
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'mw_router_rejections_total',
      help: 'Requests refused before execution, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    droppedSubscriptionEvents: new Counter({
      name: 'mw_router_subscription_events_dropped_total',
      help: 'Subscription events not sent: to connections holding over 1 MiB of unsent data, or past the backlog of subscriptions slow to resolve',
      registers: [registry],
    }),
    usageReportsPublished: new Counter({
      name: 'mw_router_usage_reports_published_total',
      help: 'Usage reports (one per interval) taken by the event log',
      registers: [registry],
    }),
    usageReportsDropped: new Counter({
      name: 'mw_router_usage_report_operations_dropped_total',
      help: 'Operation and client pairs left out of usage reports: the aggregate was full, or the event log could not take the report',
      labelNames: ['reason'],
      registers: [registry],
    }),
    webSocketConnections: new Gauge({
      name: 'mw_router_websocket_connections',
      help: 'Open GraphQL WebSocket connections',
      registers: [registry],
    }),
    /** The concurrency limit's state, read when /metrics is scraped (router/concurrency.ts). */
    observeConcurrency(read: () => { limit: number; active: number; waiting: number }) {
      const gauge = (name: string, help: string, pick: (s: ReturnType<typeof read>) => number) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(pick(read()));
          },
        });
      gauge('mw_router_concurrency_limit', 'Operations the router executes at once, adapted to its event loop load', (s) => s.limit);
      gauge('mw_router_operations_executing', 'Operations executing now', (s) => s.active);
      gauge('mw_router_operations_waiting', 'Operations waiting for the concurrency limit', (s) => s.waiting);
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Operation names are client-chosen: bound the label's cardinality. */
export const operationLabel = boundedLabel(500);
