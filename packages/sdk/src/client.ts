import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { getOperationAST, print, type DocumentNode, type GraphQLFormattedError, type OperationTypeNode } from 'graphql';
import { createClient as createWsClient, type Client as WsClient, type ClientOptions as WsClientOptions } from 'graphql-ws';
import { fromGraphQLErrors, fromHttpStatus, fromSubscriptionError, MindWeaveError } from './errors.js';
import { backoffDelay, defaultRetry, parseRetryAfter, sleep, type RetryOptions } from './retry.js';

/** A JWT from register/login/refreshToken, a project API key, or a function asked before every request and connection. */
export type Auth = { accessToken: string } | { apiKey: string } | (() => Promise<string>);

export interface MindWeaveClientOptions {
  /** The router's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** The graphql-ws endpoint; default: `url` with ws(s):. */
  wsUrl?: string;
  /** Without it, requests are anonymous (register, login, public MCP servers). */
  auth?: Auth;
  retry?: Partial<RetryOptions>;
  fetch?: typeof fetch;
  /** Send queries as GET (cacheable persisted queries); mutations are always POST. */
  getForQueries?: boolean;
  /** A WebSocket class for subscriptions where there is no global one (Node.js 20: `ws`'s default export). */
  webSocketImpl?: unknown;
  /** graphql-ws's listeners of the WebSocket connection (`connected`, `closed`, ...), to show whether a live view is live. */
  on?: WsClientOptions['on'];
  /** Your own mutations (by operation name) that are safe to carry out twice, beside `idempotentMutations`. */
  idempotentMutations?: string[];
}

/**
 * Mutations sent again after a failure that leaves unknown whether they were carried out (the
 * connection lost after sending, a proxy's 502, 503 or 504) when every event they record carries
 * an idempotency key, which makes a repeat count once. Any other mutation is sent again only when
 * it surely was not carried out: a connection refused, the router's RATE_LIMITED or UNAVAILABLE
 * ("nothing was decided", says the contract).
 */
export const idempotentMutations = ['RecordUsage', 'RecordUsageBatch'];

/** Whether every usage event of `recordUsage(input)` or `recordUsageBatch(inputs)` has its idempotency key. */
function everyEventKeyed(variables: unknown): boolean {
  const { input, inputs } = (variables ?? {}) as { input?: unknown; inputs?: unknown };
  const events: unknown[] = Array.isArray(inputs) ? inputs : input ? [input] : [];
  return events.length > 0 && events.every((event) => Boolean((event as { idempotencyKey?: unknown }).idempotencyKey));
}

/** Variables may be left out when the operation has no required ones. */
type VariablesArgs<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

interface Operation {
  type: OperationTypeNode;
  name: string | undefined;
  /** The trusted documents manifest's hash; undefined for a document that is not one of the SDK's. */
  hash: string | undefined;
  query: string;
}

const operations = new WeakMap<DocumentNode, Operation>();
function operationOf(document: DocumentNode): Operation {
  let operation = operations.get(document);
  if (!operation) {
    const definition = getOperationAST(document);
    if (!definition) throw new TypeError('The document must hold exactly one operation');
    const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
    operation = {
      type: definition.operation,
      name: definition.name?.value,
      hash: typeof hash === 'string' ? hash : undefined,
      query: print(document),
    };
    operations.set(document, operation);
  }
  return operation;
}

interface GraphQLBody {
  data?: unknown;
  errors?: GraphQLFormattedError[];
}

const transientStatuses = new Set([429, 502, 503, 504]);

/** Refused before anything was sent: the router never saw the request. */
const unsentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const neverSent = (error: unknown) => {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && unsentCodes.has(code);
};

export function createMindWeaveClient(options: MindWeaveClientOptions) {
  const retry: RetryOptions = { ...defaultRetry, ...options.retry };
  const ownIdempotent = new Set(options.idempotentMutations ?? []);
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function authorization(): Promise<string | undefined> {
    const { auth } = options;
    if (!auth) return undefined;
    const credential = typeof auth === 'function' ? await auth() : 'accessToken' in auth ? auth.accessToken : auth.apiKey;
    return `Bearer ${credential}`;
  }

  /** One HTTP round trip. Persisted operations go by hash alone unless `withQuery` (an APQ registration). */
  function send(operation: Operation, variables: unknown, withQuery: boolean, credential: string | undefined): Promise<Response> {
    const params: Record<string, unknown> = {
      ...(operation.name ? { operationName: operation.name } : {}),
      ...(variables && Object.keys(variables).length ? { variables } : {}),
      ...(operation.hash ? { extensions: { persistedQuery: { version: 1, sha256Hash: operation.hash } } } : {}),
      ...(withQuery || !operation.hash ? { query: operation.query } : {}),
    };
    const headers: Record<string, string> = {
      accept: 'application/graphql-response+json, application/json',
      ...(credential ? { authorization: credential } : {}),
    };
    if (options.getForQueries && operation.type === 'query') {
      const url = new URL(options.url);
      for (const [key, value] of Object.entries(params))
        url.searchParams.set(key, typeof value === 'string' ? value : JSON.stringify(value));
      return doFetch(url, { method: 'GET', headers });
    }
    return doFetch(options.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
  }

  /**
   * Runs a query or mutation. Retries network errors, 429/502/503/504, RATE_LIMITED and UNAVAILABLE
   * (after Retry-After when the router sends one) with exponential backoff and jitter, sending the
   * same variables, so a batch's idempotency keys make a retried recordUsageBatch count once; a
   * mutation that is not idempotent only when it surely was not carried out (idempotentMutations).
   * Every other error is thrown at once as a MindWeaveError.
   */
  async function request<R, V>(document: TypedDocumentNode<R, V>, ...[variables]: VariablesArgs<V>): Promise<R> {
    const operation = operationOf(document);
    if (operation.type === 'subscription') throw new TypeError('Subscriptions go through subscribe()');
    // Whether a failure that leaves the outcome unknown may be followed by another try.
    const name = operation.name ?? '';
    const resendable =
      operation.type !== 'mutation' || ownIdempotent.has(name) || (idempotentMutations.includes(name) && everyEventKeyed(variables));
    let withQuery = false;
    let failures = 0;
    for (;;) {
      // Asked on every try, so that a refreshed token is used; its failure is not retried.
      const credential = await authorization();
      let response: Response;
      try {
        response = await send(operation, variables, withQuery, credential);
      } catch (error) {
        if (!(resendable || neverSent(error)) || ++failures >= retry.attempts) throw error;
        await sleep(backoffDelay(failures, retry));
        continue;
      }
      const requestId = response.headers.get('x-request-id') ?? undefined;
      const body = (await response.json().catch(() => undefined)) as GraphQLBody | undefined;
      let error: MindWeaveError;
      if (body?.errors?.length) error = fromGraphQLErrors(body.errors, { status: response.status, requestId, data: body.data });
      else if (body && 'data' in body && response.ok) return body.data as R;
      else error = fromHttpStatus(response.status, requestId);

      // A router whose manifest predates this SDK: register the document once, as APQ clients do.
      if (error.code === 'PERSISTED_QUERY_NOT_FOUND' && operation.hash && !withQuery) {
        withQuery = true;
        continue;
      }
      // Refused for sure: the router said so, or a bare 429 (limits are applied before anything runs). A proxy's bare 503 may come after forwarding.
      const refused = body?.errors?.length ? error.code === 'RATE_LIMITED' || error.code === 'UNAVAILABLE' : response.status === 429;
      const transient = refused || (resendable && transientStatuses.has(response.status));
      if (!transient || ++failures >= retry.attempts) throw error;
      const retryAfter = parseRetryAfter(response.headers.get('retry-after')) ?? secondsToMs(error.extensions['retryAfter']);
      if (retryAfter !== undefined && retryAfter > retry.maxDelayMs) throw error;
      await sleep(retryAfter ?? backoffDelay(failures, retry));
    }
  }

  let socket: WsClient | undefined;
  function webSocket(): WsClient {
    socket ??= createWsClient({
      url: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
      webSocketImpl: options.webSocketImpl,
      lazy: true,
      connectionParams: async () => {
        const credential = await authorization();
        return credential ? { authorization: credential } : {};
      },
      retryAttempts: retry.attempts - 1,
      retryWait: (retries) => sleep(backoffDelay(retries + 1, retry)),
      ...(options.on ? { on: options.on } : {}),
    });
    return socket;
  }

  /**
   * Subscribes over graphql-ws (one connection per client, opened on demand and reopened after a
   * drop). Returns the function that unsubscribes. `onError` learns of an event the router could not
   * resolve (`ended` false: the subscription goes on) and of why a subscription ended (`ended`
   * true: subscribe again to go on, after `retryAfter` for UNAVAILABLE). The SDK's operations go by
   * hash, as over HTTP, so a router in safelist mode takes them; a router whose manifest predates
   * this SDK answers PERSISTED_QUERY_NOT_FOUND and gets the text once more.
   */
  function subscribe<R, V>(
    document: TypedDocumentNode<R, V>,
    variables: V,
    onNext: (data: R) => void,
    onError?: (error: Error, ended: boolean) => void,
  ): () => void {
    const operation = operationOf(document);
    if (operation.type !== 'subscription') throw new TypeError('Queries and mutations go through request()');
    let unsubscribe: () => void = () => undefined;
    let ended = false;
    const start = (withQuery: boolean) => {
      const persisted = operation.hash && !withQuery;
      unsubscribe = webSocket().subscribe<R>(
        {
          // graphql-ws requires a query string; the router reads an empty one as "by hash".
          query: persisted ? '' : operation.query,
          variables: variables as Record<string, unknown>,
          ...(operation.name ? { operationName: operation.name } : {}),
          ...(persisted ? { extensions: { persistedQuery: { version: 1, sha256Hash: operation.hash } } } : {}),
        },
        {
          next: (result) => {
            if (result.errors?.length) onError?.(fromGraphQLErrors(result.errors, { data: result.data }), false);
            else if (result.data) onNext(result.data);
          },
          error: (error) => {
            const failure = fromSubscriptionError(error);
            if (persisted && !ended && failure instanceof MindWeaveError && failure.code === 'PERSISTED_QUERY_NOT_FOUND') start(true);
            else onError?.(failure, true);
          },
          complete: () => undefined,
        },
      );
    };
    start(false);
    return () => {
      ended = true;
      unsubscribe();
    };
  }

  /** Closes the WebSocket connection, ending every subscription. */
  async function close(): Promise<void> {
    await socket?.dispose();
    socket = undefined;
  }

  return { request, subscribe, close };
}

export type MindWeaveClient = ReturnType<typeof createMindWeaveClient>;

const secondsToMs = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined);
