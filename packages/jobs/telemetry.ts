import { context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BullMQOtel, BullMQOTelSpan } from 'bullmq-otel';
import { tracingEnabled } from '@mindweave/telemetry';

/** A worker's housekeeping, polled all the time: spans of these would bury the jobs. */
const housekeeping = /^(getNextJob|rateLimit|startStalledCheckTimer|moveStalledJobsToWait|pause|resume|close)\b/;

let telemetry: BullMQOtel | undefined;

/**
 * BullMQ's telemetry when the process exports spans, else undefined (BullMQ then does nothing for
 * it): adding a job records the producer's trace context in the job's options
 * (`opts.telemetry.metadata`), and processing it is a span of that trace.
 */
export function jobsTelemetry(): BullMQOtel | undefined {
  if (!tracingEnabled()) return undefined;
  if (telemetry) return telemetry;
  telemetry = new BullMQOtel({ tracerName: '@mindweave/jobs' });
  const tracer = telemetry.tracer;
  const startSpan = tracer.startSpan.bind(tracer);
  tracer.startSpan = (name, options, context) =>
    housekeeping.test(name) ? new BullMQOTelSpan(trace.wrapSpanContext(INVALID_SPAN_CONTEXT)) : startSpan(name, options, context);
  return telemetry;
}

/**
 * Runs a sandboxed job (in BullMQ's child process, which has no worker span of its own) under a span
 * of the trace its producer recorded in the job's options.
 */
export async function withJobSpan<T>(
  job: { name: string; queueName: string; id?: string; opts: { telemetry?: { metadata?: string } } },
  run: () => Promise<T>,
): Promise<T> {
  const metadata = job.opts.telemetry?.metadata;
  const otel = jobsTelemetry();
  if (!otel) return run();
  const parent = metadata ? otel.contextManager.fromMetadata(ROOT_CONTEXT, metadata) : ROOT_CONTEXT;
  const span = trace.getTracer('@mindweave/jobs').startSpan(
    `run ${job.queueName}.${job.name}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: { 'bullmq.queue.name': job.queueName, 'bullmq.job.name': job.name, ...(job.id ? { 'bullmq.job.id': job.id } : {}) },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
