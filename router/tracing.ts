import type { IncomingMessage, ServerResponse } from 'node:http';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { ApolloServerPlugin } from '@apollo/server';
import { traceOwnRequests, tracingEnabled } from '@mindweave/telemetry';
import type { Identity } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { clientOf } from './usage-reporting.ts';

// The router's own spans: one per GraphQL request (its operation's name, hash, cost and client), the
// query plan's execution, and one per subgraph fetch, which carries the trace context to the
// subgraph (traceparent). Decided once at start: with tracing off none of this runs.
//
// Each span is given its parent explicitly (the operation's context travels in RouterContext and
// the plan's execution), never through the active context: the preload starts the router without a
// context manager (settings.explicitContext), because the default one, an AsyncLocalStorage, makes
// Node 20 run a promise hook on every promise of a process made of promises (README, "Tracing").

/** Whether this process exports spans (the preload started the SDK); read once. */
export const tracing = tracingEnabled();
if (tracing) traceOwnRequests((path) => path === '/graphql' || path.startsWith('/graphql?'));

const tracer = trace.getTracer('@mindweave/router');

/**
 * Runs one GraphQL request under its operation span, the router's server span: it continues the
 * caller's trace (traceparent), and is named and completed once the operation is known
 * (operationSpanPlugin). The HTTP instrumentation leaves /graphql to it (traceOwnRequests), so a
 * request costs one span here, not two.
 */
export function withOperationSpan<T>(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  run: (span: Span, traceContext: Context) => Promise<T>,
): Promise<T> {
  // A caller's trace is continued; its baggage is not carried into the services.
  const parent = propagation.deleteBaggage(propagation.extract(ROOT_CONTEXT, req.headers));
  const span = tracer.startSpan('graphql.operation', { kind: SpanKind.SERVER }, parent);
  // Attributes only for a span that is recorded (the sampler's do not read them): set on the span,
  // they are also checked once rather than twice.
  if (span.isRecording()) {
    const attributes: Attributes = {
      'http.request.method': req.method ?? 'GET',
      'url.path': '/graphql',
      'mindweave.request_id': requestId,
    };
    // The client as usage reports name it (Apollo's headers, else x-client-*).
    const client = clientOf((name) => req.headers[name]);
    if (client.name) attributes['client.name'] = client.name;
    if (client.version) attributes['client.version'] = client.version;
    span.setAttributes(attributes);
  }
  return settle(
    span,
    () => run(span, trace.setSpan(parent, span)),
    () => span.isRecording() && span.setAttribute('http.response.status_code', res.statusCode),
  );
}

/** Ends the span when the work settles, marking it failed if the work threw. */
async function settle<T>(span: Span, work: () => Promise<T>, last?: () => void): Promise<T> {
  try {
    return await work();
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    last?.();
    span.end();
  }
}

/** Who asked, once authenticated. */
export function setIdentity(span: Span, identity: Identity) {
  if (!span.isRecording()) return;
  span.setAttribute('mindweave.identity.kind', identity.kind);
  if (identity.kind === 'apiKey') span.setAttribute('mindweave.api_key.id', identity.apiKeyId);
}

/** Names the operation span after the operation, with its hash, costs and error codes. */
export const operationSpanPlugin: ApolloServerPlugin<RouterContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, request, operationName, operation, queryHash, response, errors }) {
        const span = contextValue.span;
        if (!span?.isRecording()) return;
        const type = operation?.operation;
        const name = operationName ?? request.operationName ?? undefined;
        span.updateName(type ? `${type}${name ? ` ${name}` : ''}` : 'graphql.operation');
        const edge = request.query ? contextValue.edge.get(request.query) : undefined;
        const attributes: Attributes = {};
        if (name) attributes['graphql.operation.name'] = name;
        if (type) attributes['graphql.operation.type'] = type;
        if (queryHash) attributes['mindweave.operation.hash'] = queryHash;
        if (edge) attributes['mindweave.cost.estimated'] = edge.estimatedCost;
        if (edge?.actualCost !== undefined) attributes['mindweave.cost.actual'] = edge.actualCost;
        const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
        // The errors as the client got them (their codes after unavailable.ts' rewriting).
        const codes = (result?.errors ?? errors ?? []).map((e) =>
          String(('extensions' in e ? e.extensions?.['code'] : undefined) ?? 'INTERNAL_SERVER_ERROR'),
        );
        if (codes.length) {
          attributes['mindweave.error_codes'] = codes;
          span.setStatus({ code: SpanStatusCode.ERROR, message: codes[0] });
        }
        span.setAttributes(attributes);
      },
    };
  },
};

/**
 * Whether spans under `parent` would not be recorded. Under an operation the sampler dropped (most of
 * them, with ratio sampling) the plan's and the fetches' spans are not made at all: they would be
 * dropped alike, and making them was most of the cost of an unsampled request.
 */
const dropped = (parent: Context | undefined): parent is Context => !!parent && trace.getSpan(parent)?.isRecording() === false;

/**
 * The trace context a plan's fetches run under, and its tally: a fetch that shares a request already in
 * flight (deduplicated) has no span of its own, since no request of its own reaches the subgraph; the
 * plan span counts them instead. Under an unsampled operation it is the operation's context.
 */
export interface FetchTrace {
  readonly context: Context;
  fetches: number;
  shared: number;
}

/** The execution of a query plan (planned now, or taken from the plan cache) under the operation, its fetches beneath it. */
export function withPlanSpan<T>(
  parent: Context | undefined,
  operationName: string | undefined,
  cached: boolean,
  run: (fetchTrace: FetchTrace | undefined) => Promise<T>,
): Promise<T> {
  if (dropped(parent)) return run({ context: parent, fetches: 0, shared: 0 });
  const attributes: Attributes = { 'mindweave.plan.cached': cached };
  if (operationName) attributes['graphql.operation.name'] = operationName;
  const from = parent ?? ROOT_CONTEXT;
  const span = tracer.startSpan('query plan', { attributes }, from);
  const fetchTrace: FetchTrace = { context: trace.setSpan(from, span), fetches: 0, shared: 0 };
  return settle(
    span,
    () => run(fetchTrace),
    () => {
      span.setAttribute('mindweave.plan.fetch_count', fetchTrace.fetches);
      if (fetchTrace.shared) span.setAttribute('mindweave.plan.shared_fetch_count', fetchTrace.shared);
    },
  );
}

/** Planning an operation the plan cache did not hold. */
export function withPlanningSpan<T>(parent: Context | undefined, run: () => T): T {
  if (dropped(parent)) return run();
  const span = tracer.startSpan('plan', {}, parent ?? ROOT_CONTEXT);
  try {
    return run();
  } finally {
    span.end();
  }
}

/** A subgraph's client spans: their name and attributes, the same for every request to it, made once. */
export interface FetchSpanTemplate {
  name: string;
  attributes: Attributes;
}

export const fetchSpanTemplate = (subgraph: string, url: string): FetchSpanTemplate => ({
  name: `subgraph ${subgraph}`,
  attributes: { 'mindweave.subgraph': subgraph, 'http.request.method': 'POST', 'url.full': url },
});

/**
 * One HTTP request to a subgraph under `parent`, its trace context added to `headers` (under an
 * unsampled operation, the operation's own: the subgraph learns it is not sampled). A status other
 * than 2xx marks the span failed, as the fetch then fails.
 */
export function withFetchSpan<T extends { status: number }>(
  parent: Context | undefined,
  template: FetchSpanTemplate,
  headers: Record<string, string>,
  run: () => Promise<T>,
): Promise<T> {
  if (dropped(parent)) {
    propagation.inject(parent, headers);
    return run();
  }
  const from = parent ?? ROOT_CONTEXT;
  const span = tracer.startSpan(template.name, { kind: SpanKind.CLIENT, attributes: template.attributes }, from);
  propagation.inject(trace.setSpan(from, span), headers);
  return settle(span, async () => {
    const reply = await run();
    span.setAttribute('http.response.status_code', reply.status);
    if (reply.status < 200 || reply.status >= 300) span.setStatus({ code: SpanStatusCode.ERROR });
    return reply;
  });
}
