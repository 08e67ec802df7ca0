import { createEvent, type EventBus, type EventData } from '@mindweave/events';
import type { Logger } from '@mindweave/service-kit';
import { operationCoordinates } from '@mindweave/schema-tools/coordinates';
import type { GraphQLSchema } from 'graphql';
import type { EdgeInfo } from './context.ts';
import type { Metrics } from './metrics.ts';
import type { AnalyzedOperation } from './operation.ts';

/** Upper bounds of the latency histogram's buckets, in ms; one more bucket counts the rest. */
export const latencyBucketsMs = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

type Report = EventData<'schema.usage_reported'>;
type ReportedOperation = Report['operations'][number];

const operationsPerEvent = 200;

/** Who sent an operation, from the headers Apollo's clients and others send. */
export interface Client {
  name: string;
  version: string;
}

const maxClientLength = 128;
const headerValue = (value: string | string[] | undefined | null) =>
  (Array.isArray(value) ? value[0] : (value ?? undefined))?.trim().slice(0, maxClientLength);

/** `apollographql-client-name`/`-version`, else `x-client-name`/`-version`; empty when not sent. */
export function clientOf(get: (name: string) => string | string[] | undefined | null): Client {
  return {
    name: headerValue(get('apollographql-client-name')) || headerValue(get('x-client-name')) || '',
    version: headerValue(get('apollographql-client-version')) || headerValue(get('x-client-version')) || '',
  };
}

export interface UsageReporterOptions {
  bus: Pick<EventBus, 'publish'>;
  /** The schema the coordinates are named in (the supergraph's), as the edge analyses against it. */
  schema: () => GraphQLSchema | undefined;
  router: string;
  intervalMs: number;
  /** Distinct operation and client pairs one interval holds; past it, see `otherClients`. */
  maxOperations: number;
  /** How long a report may take to reach the log before it counts as dropped. */
  publishTimeoutMs?: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * Past `maxOperations` pairs in an interval, a new client of an operation is counted under this
 * one, per operation, in up to as many pairs again; only past those is an operation dropped. The
 * client headers are the caller's to invent: a flood of made-up names or versions must not hide an
 * operation's use from schema checks.
 */
export const otherClients: Client = { name: '(other clients)', version: '' };

/**
 * Usage reporting: every executed operation is counted in memory, per operation and client, and
 * each interval one `schema.usage_reported` event per router goes to the event log. A request
 * only adds to a counter: the operation's hash and coordinates are worked out once per analysis
 * (the edge's cache), the publishing happens off the request path, at most one report is in
 * flight, and a report the log does not take in time is dropped and counted. Memory is bounded by
 * twice `maxOperations` pairs per interval (otherClients).
 */
export function createUsageReporter(options: UsageReporterOptions) {
  const { bus, metrics, log } = options;
  const publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
  // Per analysis: its coordinates, computed at its first report. Dropped with the analysis.
  const described = new WeakMap<AnalyzedOperation, { coordinates: string[] }>();
  let current = new Map<string, ReportedOperation>();
  /** Pairs of `current` under their own client (the rest are otherClients'). */
  let ownPairs = 0;
  let from = new Date();
  let dropped = 0;
  let inFlight = false;

  function coordinatesOf(analysis: AnalyzedOperation): string[] {
    let entry = described.get(analysis);
    if (!entry) {
      const schema = options.schema();
      entry = { coordinates: schema ? [...operationCoordinates(analysis.document, schema)].sort() : [] };
      described.set(analysis, entry);
    }
    return entry.coordinates;
  }

  const keyOf = (info: EdgeInfo, client: Client) =>
    `${info.operationHash}\n${info.operation.operation.name?.value ?? ''}\n${client.name}\n${client.version}`;

  function add(key: string, info: EdgeInfo, client: Client): ReportedOperation {
    const operation = info.operation.operation;
    const entry = {
      hash: info.operationHash,
      name: operation.name?.value ?? '',
      type: operation.operation,
      clientName: client.name,
      clientVersion: client.version,
      coordinates: coordinatesOf(info.operation),
      requests: 0,
      errors: 0,
      latency: new Array<number>(latencyBucketsMs.length + 1).fill(0),
    };
    current.set(key, entry);
    return entry;
  }

  /** The pair a request counts in: its own, else its operation's otherClients, else none (dropped). */
  function entryOf(info: EdgeInfo, client: Client): ReportedOperation | undefined {
    const key = keyOf(info, client);
    const entry = current.get(key);
    if (entry) return entry;
    if (ownPairs < options.maxOperations) {
      ownPairs++;
      return add(key, info, client);
    }
    const otherKey = keyOf(info, otherClients);
    return current.get(otherKey) ?? (current.size < 2 * options.maxOperations ? add(otherKey, info, otherClients) : undefined);
  }

  function record(info: EdgeInfo, client: Client, durationMs: number, failed: boolean) {
    const entry = entryOf(info, client);
    if (!entry) {
      dropped++;
      metrics.usageReportsDropped.inc({ reason: 'full' });
      return;
    }
    entry.requests++;
    if (failed) entry.errors++;
    let bucket = 0;
    while (bucket < latencyBucketsMs.length && durationMs > latencyBucketsMs[bucket]!) bucket++;
    entry.latency[bucket]!++;
  }

  async function flush() {
    if (current.size === 0 && dropped === 0) {
      from = new Date();
      return;
    }
    const operations = [...current.values()];
    const report: Omit<Report, 'operations'> = {
      router: options.router,
      from: from.toISOString(),
      to: new Date().toISOString(),
      dropped,
      latencyBucketsMs,
    };
    current = new Map();
    ownPairs = 0;
    from = new Date();
    dropped = 0;
    if (inFlight) {
      // The log is still taking the previous report: this one goes, counted, rather than queue up.
      metrics.usageReportsDropped.inc({ reason: 'log_slow' }, operations.length);
      return;
    }
    inFlight = true;
    let deadline: NodeJS.Timeout | undefined;
    let publishing: Promise<unknown> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        deadline = setTimeout(
          () => reject(new Error(`the event log did not take the report within ${publishTimeoutMs} ms`)),
          publishTimeoutMs,
        );
      });
      // Events of at most `operationsPerEvent` operations, so that none nears a Kafka message's 1 MB.
      const events = [];
      for (let i = 0; i < operations.length || i === 0; i += operationsPerEvent) {
        events.push(
          createEvent('schema.usage_reported', options.router, {
            ...report,
            dropped: i === 0 ? report.dropped : 0,
            operations: operations.slice(i, i + operationsPerEvent),
          }),
        );
      }
      publishing = bus.publish(events);
      await Promise.race([publishing, timeout]);
      metrics.usageReportsPublished.inc();
    } catch (error) {
      metrics.usageReportsDropped.inc({ reason: 'log_down' }, operations.length);
      log.warn({ err: error, operations: operations.length }, 'usage report dropped');
    } finally {
      clearTimeout(deadline);
      // A publish given up on still holds its events until the log answers it: the next report
      // waits for that (and is dropped as log_slow meanwhile) rather than pile up beside it.
      if (publishing) {
        void publishing.then(
          () => (inFlight = false),
          () => (inFlight = false),
        );
      } else inFlight = false;
    }
  }

  const timer = setInterval(() => void flush(), options.intervalMs);
  timer.unref();

  return {
    /** Counts one executed operation: the operation log calls it for HTTP, subscriptions.ts once per subscription. */
    record,
    /** Sends what was counted so far (at shutdown, and in tests). */
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

export type UsageReporter = ReturnType<typeof createUsageReporter>;
