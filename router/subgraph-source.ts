import { STATUS_CODES } from 'node:http';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError, Kind, parse, type FieldNode, type SelectionNode } from 'graphql';
import type { Context } from '@opentelemetry/api';
import { Agent } from 'undici';
import {
  dependencyUnavailable,
  ErrorCode,
  isErrorCode,
  isPassingFailure,
  neverSent,
  outcomeUnknown,
  type MindweaveError,
} from '@mindweave/errors';
import { encodeIdentity, identityHeaders, signIdentity } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { dedupeRepresentations, expandEntities } from './entity-dedupe.ts';
import { operationLabel, type Metrics } from './metrics.ts';
import { fetchSpanTemplate, tracing, withFetchSpan, type FetchTrace } from './tracing.ts';

type SubgraphResponse = Awaited<ReturnType<GraphQLDataSource['process']>>;

/**
 * Subgraph requests over pooled keep-alive connections. Waiting for a subgraph's headers, and then
 * between chunks of its body, is bounded by `timeoutMs` on the pool (cheaper than an AbortSignal
 * per request): a slow or down subgraph becomes an error for its part of the response, never a
 * hung request.
 */
export const createSubgraphAgent = (timeoutMs: number) =>
  new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    connections: 128,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 5_000),
  });

/** A subgraph operation as a JSON string, made once: a few hundred at most, one per fetch node of the cached plans. */
const quotedQueries = new Map<string, string>();
export function quoted(query: string) {
  let json = quotedQueries.get(query);
  if (json === undefined) {
    json = JSON.stringify(query);
    if (quotedQueries.size > 5_000) quotedQueries.clear();
    quotedQueries.set(query, json);
  }
  return json;
}

/** A subgraph's reply before parsing, which requests deduplicated in flight share. */
interface Reply {
  status: number;
  contentType: string;
  cacheControl: string | undefined;
  text: string;
}

export interface SendOptions {
  context: RouterContext | undefined;
  /** For the duration metric. */
  operationName: string | undefined;
  /** The incoming operation's cache policy, which the subgraph's Cache-Control restricts. */
  cachePolicy?: CachePolicy | undefined;
  /** Extra headers (the gateway's trace request); a request with any is never deduplicated. */
  headers?: Iterable<[string, string]>;
  /** A query, which may share the reply of an identical one in flight; never a mutation. */
  query: boolean;
  /** The fetch's own text (a mutation's root fields tell whether all of them were refused). */
  text?: string | undefined;
  /** The query plan's trace context and tally of fetches; else the operation's context, from `context`, is the parent. */
  fetchTrace?: FetchTrace | undefined;
}

const isQueryText = (query: string) => /^\s*(?:\{|query\b)/.test(query);

/**
 * One subgraph as the gateway sees it. Replaces RemoteGraphQLDataSource, whose WHATWG fetch,
 * node-fetch Headers and Request objects cost the router a quarter of its CPU on entity-heavy
 * plans: this posts with undici's plain request API, forwards the caller's identity in headers
 * signed over each request's body, sends each distinct entity representation once, and times each fetch.
 *
 * With `deduplicate`, a query identical to one in flight to this subgraph for the same identity
 * (same body, same signed identity) waits for that one's reply instead of being sent again, as
 * Apollo Router's `deduplicate_query` and Hive Gateway do: under load many operations ask the same
 * entities at once. Each waiter parses the reply itself, so no two operations share objects.
 */
export class SubgraphDataSource implements GraphQLDataSource<RouterContext> {
  private readonly origin: string;
  private readonly path: string;
  private readonly inflight = new Map<string, Promise<Reply>>();
  private readonly spanTemplate;

  constructor(
    private readonly subgraph: string,
    private readonly url: string,
    private readonly agent: Agent,
    private readonly signingSecret: string,
    private readonly metrics: Metrics,
    private readonly deduplicate = false,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.path = parsed.pathname + parsed.search;
    this.spanTemplate = tracing ? fetchSpanTemplate(subgraph, url) : undefined;
  }

  async process(options: GraphQLDataSourceProcessOptions<RouterContext>): Promise<SubgraphResponse> {
    const { query, variables, operationName } = options.request;
    if (!query) throw new Error('Missing query');
    const representations = variables?.['representations'];
    const deduped = Array.isArray(representations) ? dedupeRepresentations(representations) : null;
    const body = `{"query":${quoted(query)}${operationName ? `,"operationName":${JSON.stringify(operationName)}` : ''},"variables":${JSON.stringify(deduped ? { ...variables, representations: deduped.unique } : (variables ?? {}))}}`;
    const incoming = 'incomingRequestContext' in options ? options.incomingRequestContext : undefined;
    const result = await this.send(body, {
      context: 'edge' in options.context ? (options.context as RouterContext) : undefined,
      operationName: incoming?.operationName ?? undefined,
      cachePolicy: incoming?.overallCachePolicy,
      headers: options.request.http?.headers,
      query: isQueryText(query),
      text: query,
    });
    return deduped ? expandEntities(result, deduped) : result;
  }

  /** Posts one GraphQL request body and parses the subgraph's answer; HTTP errors become a GraphQLError. */
  async send(body: string, options: SendOptions): Promise<SubgraphResponse> {
    const started = performance.now();
    const { context } = options;
    if (options.fetchTrace) options.fetchTrace.fetches++;
    try {
      const reply = await this.reply(body, options).catch((error: unknown) => {
        // A mutation that may have reached its subgraph may have been carried out.
        const mayHaveRun = !options.query && !neverSent(error);
        if (mayHaveRun && context) context.mutationMayHaveRun = true;
        // Refused, reset or timed out: its part may be asked again. Anything else is a bug.
        if (!isPassingFailure(error)) throw error;
        context?.log.warn({ err: error, subgraph: this.subgraph }, 'subgraph unreachable');
        throw this.fetchError(mayHaveRun ? outcomeUnknown() : dependencyUnavailable(), error);
      });
      restrictCachePolicy(options.cachePolicy, reply.cacheControl);
      return options.query ? this.parse(reply) : this.parseMutation(reply, options);
    } finally {
      const durationMs = performance.now() - started;
      context?.subgraphTimings.push({ subgraph: this.subgraph, durationMs: Math.round(durationMs * 100) / 100 });
      this.metrics.subgraphDuration.observe(
        { subgraph: this.subgraph, operation: operationLabel(options.operationName) },
        durationMs / 1000,
      );
    }
  }

  private reply(body: string, options: SendOptions): Promise<Reply> {
    const { headers, extra } = this.headers(options.context, options.headers, body);
    if (!this.deduplicate || !options.query || extra) return this.tracedPost(body, headers, options);
    // The identity is what the subgraph answers for; the request id, signature and its time are not.
    const key = `${headers[identityHeaders.identity] ?? ''}\n${body}`;
    let reply = this.inflight.get(key);
    // The trace context is not part of what is answered: a deduplicated fetch shares the first one's
    // request, and its span (counted on its own plan's span).
    if (reply) {
      if (options.fetchTrace) options.fetchTrace.shared++;
    } else {
      reply = this.tracedPost(body, headers, options).finally(() => this.inflight.delete(key));
      this.inflight.set(key, reply);
    }
    return reply;
  }

  /** Posts under a span of its own, which carries the trace context to the subgraph, when tracing. */
  private tracedPost(body: string, headers: Record<string, string>, options: SendOptions): Promise<Reply> {
    if (!this.spanTemplate) return this.post(body, headers);
    const parent: Context | undefined = options.fetchTrace?.context ?? options.context?.traceContext;
    return withFetchSpan(parent, this.spanTemplate, headers, () => this.post(body, headers));
  }

  /** The request's headers, and whether it carries extra ones (which a deduplication key would have to hold). */
  private headers(
    context: RouterContext | undefined,
    extra: Iterable<[string, string]> | undefined,
    body: string,
  ): { headers: Record<string, string>; extra: boolean } {
    // Signed per fetch, since the signature covers the body; the identity is encoded once per operation.
    const signed = context
      ? signIdentity(
          this.signingSecret,
          context.identity,
          context.requestId,
          body,
          Date.now(),
          (context.encodedIdentity ??= encodeIdentity(context.identity)),
        )
      : signIdentity(this.signingSecret, { kind: 'anonymous' }, 'unknown', body);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...signed };
    let extraHeaders = false;
    // The gateway asks for federated traces this way.
    for (const [name, value] of extra ?? []) {
      headers[name] = value;
      extraHeaders = true;
    }
    return { headers, extra: extraHeaders };
  }

  private async post(body: string, headers: Record<string, string>): Promise<Reply> {
    const reply = await this.agent.request({ origin: this.origin, path: this.path, method: 'POST', headers, body });
    const text = await reply.body.text();
    const cacheControl = reply.headers['cache-control'];
    return {
      status: reply.statusCode,
      contentType: String(reply.headers['content-type'] ?? ''),
      cacheControl: typeof cacheControl === 'string' ? cacheControl : undefined,
      text,
    };
  }

  /**
   * A mutation's reply. Only a refusal says that nothing of it ran: its subgraph's 4xx or own 503 (a
   * dependency down), or a GraphQL answer that refuses all of it (mayHaveCarriedOut). Anything else
   * (a gateway's 502, 504 or bare 503 in front of the subgraph, a 500, a 2xx that is not GraphQL)
   * may come after it ran: its outcome is unknown.
   */
  private parseMutation(reply: Reply, { context, text }: SendOptions): SubgraphResponse {
    const { status } = reply;
    if ((status >= 400 && status < 500) || (status === 503 && isJson(reply.contentType))) return this.parse(reply);
    let result: SubgraphResponse | undefined;
    try {
      if (status >= 200 && status < 300) result = this.parse(reply);
    } catch {
      // Something took the mutation and answered what no subgraph would.
    }
    if (context && (!result || mayHaveCarriedOut(result, text))) context.mutationMayHaveRun = true;
    if (!result) throw this.fetchError(outcomeUnknown(), new Error(`${this.subgraph} answered ${status}`));
    return result;
  }

  private parse({ status, contentType, text }: Reply): SubgraphResponse {
    const json = isJson(contentType);
    if (status < 200 || status >= 300) throw this.httpError(status, json ? parseOrText(text) : text);
    const parsed: unknown = json ? JSON.parse(text) : text;
    if (!isGraphQLResponse(parsed)) throw new Error(`Expected JSON response body, but received: ${text.slice(0, 200)}`);
    return parsed;
  }

  /**
   * The error a fetch's failure becomes: dependencyUnavailable() when its part may be asked again (the
   * subgraph could not be reached, or a query got no answer), outcomeUnknown() for a mutation that may
   * have run; the failure is kept as its original error, for the logs.
   */
  private fetchError(error: MindweaveError, cause: unknown) {
    return new GraphQLError(error.message, { originalError: cause instanceof Error ? cause : undefined, extensions: error.extensions });
  }

  private httpError(status: number, body: unknown) {
    if (status === 502 || status === 503 || status === 504)
      return this.fetchError(dependencyUnavailable(), new Error(`${this.subgraph} answered ${status}`));
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : undefined;
    const statusText = STATUS_CODES[status] ?? '';
    return new GraphQLError(`${status}: ${statusText}`, {
      extensions: { ...(code ? { code } : {}), response: { url: this.url, status, statusText, body } },
    });
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

/** The response names of a mutation's root fields; null when it selects anything else at its root. */
function rootFieldsOf(text: string): string[] | null {
  let names = rootFieldCache.get(text);
  if (names !== undefined) return names;
  if (rootFieldCache.size >= 1_000) rootFieldCache.clear();
  let selections: readonly SelectionNode[] = [];
  try {
    const operation = parse(text).definitions.find((definition) => definition.kind === Kind.OPERATION_DEFINITION);
    if (operation?.kind === Kind.OPERATION_DEFINITION) selections = operation.selectionSet.selections;
  } catch {
    // Not a document: no root field is known.
  }
  const fields = selections.filter((selection): selection is FieldNode => selection.kind === Kind.FIELD);
  names = fields.length > 0 && fields.length === selections.length ? fields.map((field) => (field.alias ?? field.name).value) : null;
  rootFieldCache.set(text, names);
  return names;
}
const rootFieldCache = new Map<string, string[] | null>();

/**
 * Whether a subgraph's answer to a mutation leaves open that some of it was carried out: anything
 * but every root field refused at its root with one of the contract's decisions (a null payload
 * says nothing: a non-null one's error anywhere in it nulls the whole answer), or the whole
 * request refused before execution (errors without a path).
 */
function mayHaveCarriedOut(result: SubgraphResponse, text: string | undefined): boolean {
  const data = result.data;
  if (typeof data === 'object' && data !== null && Object.values(data).some((value) => value !== null)) return true;
  const errors = result.errors ?? [];
  if (errors.length === 0) return true;
  // Errors without a path: refused before execution (validation, credentials), unless they are of
  // the kind a failure during execution also gives.
  if (errors.every((error) => !error.path)) return !errors.every((error) => isDecision(error.extensions?.['code']));
  const refused = new Set<unknown>();
  for (const error of errors) {
    const code = error.extensions?.['code'];
    if (error.path?.length !== 1 || !isErrorCode(code) || code === ErrorCode.INTERNAL_SERVER_ERROR) return true;
    // A root field's UNAVAILABLE is its resolver's word that it decided nothing.
    refused.add(error.path[0]);
  }
  const roots = text ? rootFieldsOf(text) : null;
  return !roots?.every((name) => refused.has(name));
}

/** A contract code that is a subgraph's decision before execution: not INTERNAL_SERVER_ERROR, not UNAVAILABLE. */
const isDecision = (code: unknown) => isErrorCode(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR && code !== ErrorCode.UNAVAILABLE;

const isJson = (contentType: string) =>
  contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json');

function isGraphQLResponse(value: unknown): value is SubgraphResponse {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && ('data' in value || 'errors' in value);
}

type CachePolicy =
  GraphQLDataSourceProcessOptions<RouterContext> extends infer O
    ? O extends { incomingRequestContext: { overallCachePolicy: infer P } }
      ? P
      : never
    : never;

/** Honors a subgraph's Cache-Control the way RemoteGraphQLDataSource does. */
function restrictCachePolicy(policy: CachePolicy | undefined, header: string | undefined) {
  if (!policy || !('restrict' in policy)) return;
  const directives = new Map(
    (header ?? '').split(',').map((part) => {
      const [name = '', value] = part.trim().split('=');
      return [name.toLowerCase(), value] as const;
    }),
  );
  const maxAge = directives.get('max-age');
  policy.restrict({
    maxAge: maxAge && /^[0-9]+$/.test(maxAge) ? Number(maxAge) : 0,
    ...(directives.has('private') ? { scope: 'PRIVATE' as const } : directives.has('public') ? { scope: 'PUBLIC' as const } : {}),
  });
}
