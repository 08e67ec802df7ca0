import { STATUS_CODES } from 'node:http';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { Agent } from 'undici';
import { dependencyUnavailable, isPassingFailure } from '@mindweave/errors';
import { encodeIdentity, signIdentity } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { dedupeRepresentations, expandEntities } from './entity-dedupe.ts';
import { operationLabel, type Metrics } from './metrics.ts';

type SubgraphResponse = Awaited<ReturnType<GraphQLDataSource['process']>>;

/**
 * Subgraph requests over pooled keep-alive connections. Waiting for a subgraph's headers, and then
 * between chunks of its body, is bounded by `timeoutMs` on the pool (cheaper than an AbortSignal
 * per request): a slow or down subgraph becomes an error for its part of the response, never a
 * hung request.
 */
export const createSubgraphAgent = (timeoutMs: number) =>
  new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: Math.min(timeoutMs, 5_000) });

/** A few hundred distinct subgraph operations at most: one per fetch node of the cached plans. */
const quotedQueries = new Map<string, string>();
function quoted(query: string) {
  let json = quotedQueries.get(query);
  if (json === undefined) {
    json = JSON.stringify(query);
    if (quotedQueries.size > 5_000) quotedQueries.clear();
    quotedQueries.set(query, json);
  }
  return json;
}

/**
 * One subgraph as the gateway sees it. Replaces RemoteGraphQLDataSource, whose WHATWG fetch,
 * node-fetch Headers and Request objects cost the router a quarter of its CPU on entity-heavy
 * plans: this posts with undici's plain request API, forwards the caller's identity in headers
 * signed over each request's body, sends each distinct entity representation once, and times each fetch.
 */
export class SubgraphDataSource implements GraphQLDataSource<RouterContext> {
  private readonly origin: string;
  private readonly path: string;

  constructor(
    private readonly subgraph: string,
    private readonly url: string,
    private readonly agent: Agent,
    private readonly signingSecret: string,
    private readonly metrics: Metrics,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.path = parsed.pathname + parsed.search;
  }

  async process(options: GraphQLDataSourceProcessOptions<RouterContext>): Promise<SubgraphResponse> {
    const started = performance.now();
    const context = 'edge' in options.context ? (options.context as RouterContext) : undefined;
    try {
      const { query, variables, operationName } = options.request;
      if (!query) throw new Error('Missing query');
      const representations = variables?.['representations'];
      const deduped = Array.isArray(representations) ? dedupeRepresentations(representations) : null;
      const body = `{"query":${quoted(query)}${operationName ? `,"operationName":${JSON.stringify(operationName)}` : ''},"variables":${JSON.stringify(deduped ? { ...variables, representations: deduped.unique } : (variables ?? {}))}}`;
      const response = await this.post(body, this.headers(options, context, body)).catch((error: unknown) => {
        // Refused, reset or timed out: its part may be asked again. Anything else (a body that is no GraphQL response) is a bug.
        if (error instanceof GraphQLError || !isPassingFailure(error)) throw error;
        context?.log.warn({ err: error, subgraph: this.subgraph }, 'subgraph unreachable');
        throw this.unavailable(error);
      });
      if ('incomingRequestContext' in options) restrictCachePolicy(options.incomingRequestContext.overallCachePolicy, response.cacheControl);
      return deduped ? expandEntities(response.result, deduped) : response.result;
    } finally {
      const durationMs = performance.now() - started;
      context?.subgraphTimings.push({ subgraph: this.subgraph, durationMs: Math.round(durationMs * 100) / 100 });
      const operation = 'incomingRequestContext' in options ? options.incomingRequestContext.operationName : undefined;
      this.metrics.subgraphDuration.observe({ subgraph: this.subgraph, operation: operationLabel(operation) }, durationMs / 1000);
    }
  }

  private headers(options: GraphQLDataSourceProcessOptions<RouterContext>, context: RouterContext | undefined, body: string) {
    // Signed per fetch, since the signature covers the body; the identity is encoded once per operation.
    const signed = context
      ? signIdentity(this.signingSecret, context.identity, context.requestId, body, Date.now(), (context.encodedIdentity ??= encodeIdentity(context.identity)))
      : signIdentity(this.signingSecret, { kind: 'anonymous' }, 'unknown', body);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...signed };
    // The gateway asks for federated traces this way.
    for (const [name, value] of options.request.http?.headers ?? []) headers[name] = value;
    return headers;
  }

  private async post(body: string, headers: Record<string, string>) {
    const reply = await this.agent.request({ origin: this.origin, path: this.path, method: 'POST', headers, body });
    const text = await reply.body.text();
    const status = reply.statusCode;
    const contentType = String(reply.headers['content-type'] ?? '');
    const json = contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json');
    if (status < 200 || status >= 300) throw this.httpError(status, json ? parseOrText(text) : text);
    const parsed: unknown = json ? JSON.parse(text) : text;
    if (!isGraphQLResponse(parsed)) throw new Error(`Expected JSON response body, but received: ${text.slice(0, 200)}`);
    const cacheControl = reply.headers['cache-control'];
    return { result: parsed, cacheControl: typeof cacheControl === 'string' ? cacheControl : undefined };
  }

  /** The subgraph could not be reached, or did not answer in time: its part of the response may be asked again. */
  private unavailable(cause: unknown) {
    const refusal = dependencyUnavailable();
    return new GraphQLError(refusal.message, { originalError: cause instanceof Error ? cause : undefined, extensions: refusal.extensions });
  }

  private httpError(status: number, body: unknown) {
    if (status === 502 || status === 503 || status === 504) return this.unavailable(new Error(`${this.subgraph} answered ${status}`));
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : undefined;
    const statusText = STATUS_CODES[status] ?? '';
    return new GraphQLError(`${status}: ${statusText}`, { extensions: { ...(code ? { code } : {}), response: { url: this.url, status, statusText, body } } });
  }
}

/** An error page labelled JSON stays readable in the error instead of becoming a SyntaxError. */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isGraphQLResponse(value: unknown): value is SubgraphResponse {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && ('data' in value || 'errors' in value);
}

type CachePolicy = GraphQLDataSourceProcessOptions<RouterContext> extends infer O ? (O extends { incomingRequestContext: { overallCachePolicy: infer P } } ? P : never) : never;

/** Honors a subgraph's Cache-Control the way RemoteGraphQLDataSource does. */
function restrictCachePolicy(policy: CachePolicy | undefined, header: string | undefined) {
  if (!policy || !('restrict' in policy)) return;
  const directives = new Map((header ?? '').split(',').map((part) => {
    const [name = '', value] = part.trim().split('=');
    return [name.toLowerCase(), value] as const;
  }));
  const maxAge = directives.get('max-age');
  policy.restrict({
    maxAge: maxAge && /^[0-9]+$/.test(maxAge) ? Number(maxAge) : 0,
    ...(directives.has('private') ? { scope: 'PRIVATE' as const } : directives.has('public') ? { scope: 'PUBLIC' as const } : {}),
  });
}
