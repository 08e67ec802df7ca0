// Loaded by the preload (register.ts) only when traces are exported.
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { propagation } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { isOwnRequest, setTracingRuntime } from './index.ts';
import type { TracingSettings } from './settings.ts';

/** Routes that are polled, not asked: their spans would bury the requests. */
const isProbe = (path: string | undefined) => !!path && (path.startsWith('/health') || path === '/metrics');

/** A request that already carries trace context was given it by one of our own spans (the router's subgraph fetches). */
function carriesTraceparent(headers: unknown): boolean {
  if (typeof headers === 'string') return /(^|\n)traceparent:/i.test(headers);
  if (Array.isArray(headers)) return headers.some((value, i) => i % 2 === 0 && String(value).toLowerCase() === 'traceparent');
  return false;
}

/**
 * Starts exporting spans: the tracer provider (sampler and batch settings from OTEL_* variables),
 * W3C trace context and baggage propagation, and the instrumentations of HTTP (server and client),
 * undici (fetch), PostgreSQL, Redis and Prisma (only the HTTP server's in a service that passes context
 * explicitly, settings.explicitContext). ES modules are patched through import-in-the-middle's
 * loader, limited to the modules an instrumentation asks for.
 */
export async function startTracing(settings: TracingSettings) {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const resource = resourceFromAttributes({ 'service.name': settings.serviceName, 'service.namespace': 'mindweave' }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const exporter =
    settings.exporter === 'console'
      ? new ConsoleSpanExporter()
      : settings.protocol === 'http/json'
        ? new OtlpJsonExporter()
        : new OtlpProtobufExporter();
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register({
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    // null: no context manager at all, context.active() is always the root context. The default is
    // an AsyncLocalStorage, which on Node 20 costs a promise hook on every promise of the process.
    ...(settings.explicitContext ? { contextManager: null } : {}),
  });

  const http = new HttpInstrumentation({
    ignoreIncomingRequestHook: (request) => isProbe(request.url) || isOwnRequest(request.url ?? ''),
    // Outgoing node:http requests are few (webhook deliveries, SMTP goes over its own socket).
    requireParentforOutgoingSpans: true,
  });
  registerInstrumentations({
    tracerProvider: provider,
    // Without an active context the client instrumentations would never find a parent: only the
    // HTTP server's spans (routes other than the service's own) remain.
    instrumentations: settings.explicitContext
      ? [http]
      : [
          http,
          new UndiciInstrumentation({
            requireParentforSpans: true,
            ignoreRequestHook: (request) => carriesTraceparent(request.headers) || isProbe(request.path),
          }),
          new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
          new IORedisInstrumentation({ requireParentSpan: true }),
          // The SQL itself is pg's span; Prisma's own add the model operation around it.
          new PrismaInstrumentation({ ignoreSpanTypes: [/^prisma:client:serialize/, /^prisma:client:connect/] }),
        ],
  });
  await waitForAllMessagesAcknowledged();

  let stopped: Promise<void> | undefined;
  setTracingRuntime({
    flush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown().catch(() => undefined)),
  });
  if (propagation.fields().length === 0) throw new Error('the trace context propagator was not registered');
}
