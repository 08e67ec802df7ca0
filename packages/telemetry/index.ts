import { context, propagation, ROOT_CONTEXT, trace, type Context, type Tracer } from '@opentelemetry/api';

export { telemetryEnv, serviceNameOf, tracesWanted } from './settings.ts';

/** What the preload leaves when it started the SDK (sdk.ts). */
export interface TracingRuntime {
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const runtimeKey = Symbol.for('mindweave.telemetry');
const runtime = () => (globalThis as { [runtimeKey]?: TracingRuntime })[runtimeKey];

/** @internal Set by the preload once spans are exported. */
export const setTracingRuntime = (value: TracingRuntime) => void ((globalThis as { [runtimeKey]?: TracingRuntime })[runtimeKey] = value);

/**
 * Whether this process exports spans. Code that would only do work for spans (wrapping resolvers,
 * handlers) asks this once, at start, so that it costs nothing when tracing is off.
 */
export const tracingEnabled = (): boolean => runtime() !== undefined;

/** Sends the spans still buffered: called on shutdown, before the process exits; a collector that does not answer holds it up for 5 s at most. */
export async function flushTracing(): Promise<void> {
  const tracing = runtime();
  if (!tracing) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([tracing.shutdown(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000).unref()))]);
  clearTimeout(timer);
}

/** The tracer MindWeave's own spans come from (the no-op tracer when tracing is off). */
export const tracer = (name = 'mindweave'): Tracer => trace.getTracer(name);

/** W3C trace context as it travels in headers and in event and job metadata. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The active trace context as a carrier, or undefined when there is none (tracing off, no span). */
export function activeTraceCarrier(active: Context = context.active()): TraceCarrier | undefined {
  if (!trace.getSpan(active)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  // Only the trace context travels on: a caller's baggage stays out of every event and job.
  const { traceparent, tracestate } = carrier;
  if (!traceparent) return undefined;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** The context a carrier names, under which a consumer's spans join the producer's trace. */
export const contextFromCarrier = (carrier: TraceCarrier | undefined): Context =>
  carrier?.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;

const ownRequestsKey = Symbol.for('mindweave.telemetry.own-requests');
type OwnRequests = (path: string) => boolean;

/**
 * Paths whose server span the service makes itself (the router's /graphql, where the span is the
 * operation): the HTTP instrumentation leaves those requests alone, which spares a span per request.
 */
export const traceOwnRequests = (isOwn: OwnRequests) => void ((globalThis as { [ownRequestsKey]?: OwnRequests })[ownRequestsKey] = isOwn);

/** @internal For the HTTP instrumentation (sdk.ts). */
export const isOwnRequest = (path: string) => (globalThis as { [ownRequestsKey]?: OwnRequests })[ownRequestsKey]?.(path) ?? false;
