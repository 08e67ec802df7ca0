import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import {
  badUserInput,
  dependencyUnavailable,
  ErrorCode,
  errorBody,
  httpStatusOf,
  internalError,
  isErrorCode,
  isPassingFailure,
  MindweaveError,
  unauthenticated,
} from '@mindweave/errors';
import {
  boundedLabel,
  closeServer,
  createHealthRoutes,
  createServiceMetrics,
  listen,
  sendJson,
  verifyIdentity,
  type AnswerOf,
  type HealthCheck,
  type InternalRoute,
  type Logger,
  type ParsedRequestOf,
  type ServiceMetrics,
} from '@mindweave/service-kit';
import type { SubgraphContext } from './builder.ts';

/** Subgraph operations come from the router, whose own limit is on what clients send; entity batches can be larger. */
const maxGraphQLBodyBytes = 64 * 1024 * 1024;

export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

class BodyTooLargeError extends Error {}

/** The request's body as it came, byte for byte: the signature covers it. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A POST route for other services only (`/internal/...`), by its contract (service-kit's
 * internalRoute): the caller must be signed as a service with the internal secret, over this very
 * body, like the router signs its requests; a body outside the contract's request schema is
 * refused with BAD_USER_INPUT (400); `answer` gets the parsed body and answers the contract's
 * response (200) or a contract error, sent with its code's status.
 */
export function serviceRoute<R extends InternalRoute>(
  route: R,
  signingSecret: string,
  answer: (body: ParsedRequestOf<R>) => Promise<AnswerOf<R> | MindweaveError>,
  limit = 16_384,
): ExtraRoute {
  return async (req, res, url) => {
    if (req.method !== 'POST' || url.pathname !== route.path) return false;
    const raw = await readBody(req, limit).catch(() => null);
    const caller = raw ? verifyIdentity(signingSecret, { get: (name) => header(req, name) }, raw) : null;
    if (caller?.identity.kind !== 'service') {
      sendJson(res, 401, errorBody(unauthenticated('Only services may ask')));
      return true;
    }
    const body = route.request.safeParse(parseJson(raw!));
    if (!body.success) {
      sendJson(res, 400, errorBody(badUserInput(`Not a body of ${route.path}: ${z.prettifyError(body.error)}`)));
      return true;
    }
    const result = await answer(body.data as ParsedRequestOf<R>);
    if (result instanceof MindweaveError) sendJson(res, httpStatusOf[result.code], errorBody(result));
    else sendJson(res, 200, result);
    return true;
  };
}

export interface SubgraphServerOptions {
  name: string;
  port: number;
  host?: string;
  schema: GraphQLSchema;
  signingSecret: string;
  production: boolean;
  log: Logger;
  /** What the subgraph cannot serve without: /health/ready answers 503 while one is down. */
  healthChecks: Record<string, HealthCheck>;
  /** What it serves without, with a feature degraded: reported by /health only. */
  optionalHealthChecks?: Record<string, HealthCheck>;
  /** Routes besides /graphql and /health (e.g. a JWKS); they handle their own authentication. */
  routes?: ExtraRoute[];
  /**
   * Execute with graphql-jit, which compiles each operation once, variable coercion included. For a
   * hot path with large inputs (usage's 1,000-event batches): graphql-tools' executor coerces and
   * copies every input object on every request.
   */
  jit?: boolean;
}

/**
 * Errors with a contract code pass as they are. A dependency that could not answer (PostgreSQL,
 * Redis, another service: isPassingFailure) becomes UNAVAILABLE with retryAfter, so that the client
 * retries instead of reporting a bug; anything else is logged with the request id and reaches the
 * router as INTERNAL_SERVER_ERROR.
 */
function maskError(log: Logger, production: boolean) {
  return (error: unknown): Error => {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    if (original instanceof GraphQLError && isErrorCode(original.extensions['code'])) {
      return error instanceof GraphQLError ? error : original;
    }
    const path = error instanceof GraphQLError ? error.path : undefined;
    if (isPassingFailure(original)) {
      log.warn({ err: original, path }, 'a dependency could not answer; answered UNAVAILABLE');
      const refusal = dependencyUnavailable();
      return new GraphQLError(production ? refusal.message : `${refusal.message}: ${(original as Error)?.message}`, {
        path,
        extensions: refusal.extensions,
      });
    }
    log.error({ err: original, path }, 'resolver failed');
    const masked = internalError();
    return new GraphQLError(production ? masked.message : `${masked.message}: ${(original as Error)?.message}`, {
      path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    });
  };
}

function operationLog(): Plugin<SubgraphContext> {
  return {
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result ? result.errors : undefined;
          args.contextValue.log.info(
            {
              operationName: args.operationName ?? undefined,
              durationMs: Math.round((performance.now() - started) * 100) / 100,
              errorCodes: errors?.map((e) => e.extensions?.['code']),
            },
            'operation',
          );
          if (args.contextValue.log.isLevelEnabled('debug'))
            args.contextValue.log.debug({ variables: args.variableValues }, 'operation variables');
        },
      };
    },
  };
}

/**
 * Each operation's execution time and the contract codes of its errors, per operation name: the
 * router's names for its fetches (`Dashboard__accounts__1`), bounded to 200 distinct ones.
 */
export function operationMetrics(metrics: ServiceMetrics): Plugin<SubgraphContext> {
  const duration = new Histogram({
    name: 'mw_subgraph_operation_duration_seconds',
    help: 'Operations executed by the subgraph, by operation name and type',
    labelNames: ['operation', 'type'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  const errors = new Counter({
    name: 'mw_subgraph_operation_errors_total',
    help: "Operations answered with errors, once per operation and error code (codes outside the contract's are 'other')",
    labelNames: ['operation', 'type', 'code'],
    registers: [metrics.registry],
  });
  const operationLabel = boundedLabel(200);
  return {
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const labels = {
            operation: operationLabel(args.operationName),
            type: getOperationAST(args.document, args.operationName)?.operation ?? 'unknown',
          };
          duration.observe(labels, (performance.now() - started) / 1000);
          const codes = new Set(('errors' in result ? (result.errors ?? []) : []).map((error) => error.extensions?.['code']));
          for (const code of codes) errors.inc({ ...labels, code: isErrorCode(code) ? code : 'other' });
        },
      };
    },
  };
}

/**
 * A subgraph's HTTP server: GraphQL on /graphql for requests the router signed, health routes,
 * Prometheus metrics on /metrics, and any extra routes. Unsigned or forged requests are refused
 * before any resolver runs.
 */
export async function startSubgraphServer(options: SubgraphServerOptions) {
  const { log, production } = options;
  const metrics = createServiceMetrics();
  // Loaded only by the subgraphs that ask for it (the usage path): graphql-jit and its JSON
  // serializer are a few MB of heap that the others would carry idle.
  const jit = options.jit ? [(await import('@envelop/graphql-jit')).useGraphQlJit()] : [];
  const yoga = createYoga<{ identity: SubgraphContext['identity']; requestId: string; log: Logger }>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    logging: false,
    landingPage: false,
    graphiql: false,
    maskedErrors: { maskError: maskError(log, production) },
    plugins: [operationLog(), operationMetrics(metrics), ...jit],
  });
  const handleHealth = createHealthRoutes(options.name, options.healthChecks, { optional: options.optionalHealthChecks });
  // Requests answered before any operation ran, which the operation metrics cannot see.
  const refused = new Counter({
    name: 'mw_subgraph_requests_refused_total',
    help: 'Requests answered with an error before any operation ran: signature (missing, wrong or stale), too_large, unavailable (a dependency), internal',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://subgraph');
    try {
      if ((await handleHealth(req, res, url.pathname)) || (await metrics.handle(req, res, url.pathname))) return;
      for (const route of options.routes ?? []) if (await route(req, res, url)) return;
      if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found' });

      // The signature covers the body, so it is read first; yoga then takes it as read (whatwg-node
      // uses a request's `body` when a framework has consumed the stream).
      const body = await readBody(req, maxGraphQLBodyBytes);
      const verified = verifyIdentity(options.signingSecret, { get: (name) => header(req, name) }, body);
      if (!verified) {
        refused.inc({ reason: 'signature' });
        log.warn({ remote: req.socket.remoteAddress }, 'refused a request without a valid router signature');
        return sendJson(res, 401, errorBody(unauthenticated('Requests must come through the router')));
      }
      const requestLog = log.child({ requestId: verified.requestId });
      await yoga(Object.assign(req, { body }), res, { identity: verified.identity, requestId: verified.requestId, log: requestLog });
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        refused.inc({ reason: 'too_large' });
        return sendJson(res, 413, errorBody(badUserInput(error.message)));
      }
      refused.inc({ reason: isPassingFailure(error) ? 'unavailable' : 'internal' });
      if (isPassingFailure(error)) {
        log.warn({ err: error, path: url.pathname }, 'a dependency could not answer; answered 503');
        const refusal = dependencyUnavailable();
        if (!res.headersSent) sendJson(res, 503, errorBody(refusal), { 'retry-after': String(refusal.extensions['retryAfter']) });
        return;
      }
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, errorBody(internalError()));
    }
  });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, options.port, options.host);
  log.info({ port }, `${options.name} subgraph ready`);
  return { server, port, metrics, close: () => closeServer(server) };
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}
