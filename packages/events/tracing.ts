import { context, SpanKind, trace, type Link } from '@opentelemetry/api';
import { contextFromCarrier } from '@mindweave/telemetry';
import type { BatchHandler, ConsumeOptions } from './bus.ts';
import type { EventEnvelope } from './events.ts';

const tracer = trace.getTracer('@mindweave/events');

/**
 * A consumer's handler whose work joins the traces of the operations that published its events
 * (their `metadata.traceparent`): a batch is one span in each trace it continues, and the handler
 * runs under the first of them, to which the others link. Events without trace context get a span
 * of their own. Only used when the process exports spans.
 */
export function tracedHandler(options: ConsumeOptions, transport: 'redis' | 'kafka'): BatchHandler {
  const { handler, group } = options;
  return async (events: EventEnvelope[]) => {
    const parents = new Map<string, EventEnvelope['metadata']>();
    for (const event of events)
      if (event.metadata.traceparent && !parents.has(event.metadata.traceparent)) parents.set(event.metadata.traceparent, event.metadata);
    const types = [...new Set(events.map((event) => event.type))];
    const name = `process ${types.join(' ')}`;
    const attributes = {
      'messaging.system': transport,
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': group,
      'messaging.batch.message_count': events.length,
      'mindweave.event.types': types,
    };
    const [first, ...others] = parents.values();
    const main = tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes }, contextFromCarrier(first));
    const links: Link[] = [{ context: main.spanContext() }];
    const joined = others
      .slice(0, 127)
      .map((carrier) => tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes, links }, contextFromCarrier(carrier)));
    try {
      return await context.with(trace.setSpan(context.active(), main), () => handler(events));
    } catch (error) {
      main.recordException(error as Error);
      throw error;
    } finally {
      main.end();
      for (const span of joined) span.end();
    }
  };
}
