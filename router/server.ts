import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';
import type { Context, Span } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import type { EventBus } from '@mindweave/events';
import { ErrorCode, httpStatusOf, MindweaveError } from '@mindweave/errors';
import { closeServer, listen, requestIdFrom, sendJson, type Logger } from '@mindweave/service-kit';
import { adminCredentials, checkBasicAuth, createQueueDashboard, isAdminQueuesPath } from './admin.ts';
import { startAccessEvents } from './access-events.ts';
import { createAuthenticator } from './auth.ts';
import { cacheControlOf } from './cache-control.ts';
import type { RouterContext } from './context.ts';
import { createDashboard } from './dashboard.ts';
import { createDownloadProxy, isExportDownloadPath } from './downloads.ts';
import { createEdge } from './edge.ts';
import { ideEnabled, type RouterEnv } from './env.ts';
import { formatError, requestIdOnInternalErrors } from './format-error.ts';
import { createGateway } from './gateway.ts';
import { isDocumentError, sendError, wantsGraphQLResponse, writeResponse } from './graphql-http-response.ts';
import { createRouterHealth } from './health.ts';
import { admittedRequestOf, operationsOf } from './http-operations.ts';
import { createMembershipLookup } from './memberships.ts';
import { createIde } from './ide.ts';
import { createMetrics } from './metrics.ts';
import { createConcurrencyLimit } from './concurrency.ts';
import { operationLogPlugin } from './operation-log.ts';
import { createPersistedQueries, loadManifest } from './persisted-queries.ts';
import { createRateLimiter } from './rate-limit.ts';
import { createSessionRevocations } from './revocations.ts';
import { startSubscriptions } from './subscriptions.ts';
import { unavailablePlugin } from './unavailable.ts';
import { createUsageReporter } from './usage-reporting.ts';
import { operationSpanPlugin, setIdentity, tracing, withOperationSpan } from './tracing.ts';

export interface RouterDeps {
  env: RouterEnv;
  log: Logger;
  redis: Redis;
  bus: EventBus;
}

export async function startRouter({ env, log, redis, bus }: RouterDeps) {
  const development = env.NODE_ENV === 'development';
  const production = env.NODE_ENV === 'production';
  const metrics = createMetrics();
  const concurrency = createConcurrencyLimit({ min: 8, max: 1_024, intervalMs: 100 });
  metrics.observeConcurrency(() => concurrency.stats);
  const edge = createEdge(env, createRateLimiter(redis, log), metrics);
  const usage = env.USAGE_REPORTING
    ? createUsageReporter({
        bus,
        schema: edge.schema,
        router: `${hostname()}-${process.pid}`,
        intervalMs: env.USAGE_REPORTING_INTERVAL_MS,
        maxOperations: env.USAGE_REPORTING_MAX_OPERATIONS,
        metrics,
        log: log.child({ component: 'usage-reporting' }),
      })
    : undefined;
  const persisted = createPersistedQueries({
    redis,
    mode: env.PERSISTED_QUERIES,
    manifest: loadManifest(env.PERSISTED_QUERIES_MANIFEST, log),
    log,
  });
  const subgraphs = new Map<string, string>();
  const gateway = createGateway({
    supergraphPath: env.SUPERGRAPH_PATH,
    source: env.SUPERGRAPH_SOURCE,
    databaseUrl: env.DATABASE_URL,
    pollMs: env.SUPERGRAPH_POLL_MS,
    subgraphUrls: env.SUBGRAPH_URLS,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS,
    executor: env.QUERY_PLAN_EXECUTOR,
    deduplicateSubgraphQueries: env.SUBGRAPH_DEDUPLICATION,
    metrics,
    log,
    subgraphs,
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => edge.setSupergraph(coreSupergraphSdl));
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    logger: log,
    formatError: formatError(development),
    includeStacktraceInErrorResponses: development,
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    allowBatchedHttpRequests: env.MAX_BATCH_SIZE > 0,
    // Persisted queries are resolved before the edge (persisted-queries.ts), shared through Redis.
    persistedQueries: false,
    // Parsed and validated documents, with their tokens: the default 30 MiB (of JSON) holds about
    // 100 MB of heap, which a stream of distinct operations fills (bench:federation, first-seen).
    documentStore: new InMemoryLRUCache<DocumentNode>({ maxSize: 8 * 1024 * 1024 }),
    // Credentials travel in headers, never in cookies, so cross-site requests carry no authority.
    csrfPrevention: false,
    // Browsers get router/ide.ts instead of Apollo's landing page, which loads from a CDN.
    plugins: [
      edge.responsePlugin,
      // Before the request id is added to internal errors: it may turn UNAVAILABLE ones into one.
      unavailablePlugin,
      requestIdOnInternalErrors,
      operationLogPlugin(metrics, usage),
      ...(tracing ? [operationSpanPlugin] : []),
      ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const sessions = createSessionRevocations({ redis, log });
  const authenticator = createAuthenticator({
    jwksUrl: env.IDENTITY_JWKS_URL,
    accountsUrl: env.ACCOUNTS_INTERNAL_URL,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    redis,
    apiKeyCacheTtlSeconds: env.API_KEY_CACHE_TTL_SECONDS,
    sessions,
    log,
  });

  const queueDashboard = createQueueDashboard({
    redisUrl: env.REDIS_URL,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    credentials: adminCredentials(env),
    log,
  });
  // Downloads are authorized by their signed URL, checked by the exports subgraph.
  const downloadExport = createDownloadProxy({
    exportsUrl: new URL(env.SUBGRAPH_URLS.get('exports') ?? 'http://127.0.0.1:4007/graphql').origin,
    timeoutMs: env.SUBGRAPH_TIMEOUT_MS,
    log,
  });

  const dashboard = createDashboard({ dir: env.DASHBOARD_DIR, log });
  const ide = createIde({
    dir: env.DASHBOARD_DIR,
    enabled: ideEnabled(env),
    demoFile: development ? env.GRAPHQL_IDE_DEMO_FILE : undefined,
    log,
  });

  // In production the detailed report is for operators: the queue dashboard's credentials.
  const operator = adminCredentials(env);
  const handleHealth = createRouterHealth({
    redis,
    subgraphs,
    services: env.SERVICE_HEALTH_URLS,
    showDetails: (req) => !production || (!!operator && checkBasicAuth(req.headers.authorization, operator.user, operator.password)),
  });

  async function handleGraphQL(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    requestId: string,
    span?: Span,
    traceContext?: Context,
  ) {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return sendError(req, res, 405, new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Use GET or POST'), { allow: 'GET, POST' });
    }
    const identity = await authenticator.authenticate(req.headers, requestId);
    if (span) setIdentity(span, identity);
    const sent = await operationsOf(req, url, env);
    const requests = await Promise.all(sent.requests.map((request) => persisted.resolve(request)));
    const ip = req.socket.remoteAddress ?? 'unknown';
    const admission = await edge.admit(identity, ip, requests, req.headers['x-include-cost'] === 'true');
    for (const [name, value] of Object.entries(admission.headers)) res.setHeader(name, value);
    if (!admission.ok) return sendError(req, res, admission.status, admission.error);

    const method = req.method;
    const httpGraphQLRequest = admittedRequestOf(req, method, url, sent, admission.requests);
    await concurrency.run(async () => {
      // Its client left while it waited: planning and running it now would only add to the load.
      if (res.destroyed) return;
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest,
        context: async () => ({
          identity,
          requestId,
          log: log.child({ requestId }),
          edge: admission.edge,
          subgraphTimings: [],
          ...(span && traceContext ? { span, traceContext } : {}),
        }),
      });
      if (response.status === 400 && !wantsGraphQLResponse(req) && isDocumentError(response)) response.status = 200;
      if (method === 'GET' && sent.requests[0] && persisted.isPersisted(sent.requests[0]))
        response.headers.set('cache-control', cacheControlOf(env, identity.kind, [...admission.edge.values()][0], response));
      await writeResponse(res, response);
    });
  }

  const server = createServer(async (req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://router');
    try {
      if (await handleHealth(req, res, url.pathname)) return;
      if (await metrics.handle(req, res, url.pathname)) return;
      if (isAdminQueuesPath(url.pathname)) return queueDashboard.handle(req, res);
      if (isExportDownloadPath(url.pathname)) return await downloadExport(req, res, url);
      if ((await dashboard.handle(req, res, url)) || (await ide.handle(req, res, url))) return;
      if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found' });
      await (tracing
        ? withOperationSpan(req, res, requestId, (span, traceContext) => handleGraphQL(req, res, url, requestId, span, traceContext))
        : handleGraphQL(req, res, url, requestId));
    } catch (error) {
      if (error instanceof MindweaveError) {
        const retryAfter = error.extensions['retryAfter'];
        if (!res.headersSent)
          sendError(req, res, httpStatusOf[error.code], error, typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {});
      } else {
        log.error({ err: error, requestId }, 'request failed');
        if (!res.headersSent)
          sendJson(res, 500, {
            errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId } }],
          });
      }
    }
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 60_000;
  const subscriptions = startSubscriptions({
    server,
    apollo,
    gateway,
    authenticator,
    membershipLookup: createMembershipLookup({ accountsUrl: env.ACCOUNTS_INTERNAL_URL, signingSecret: env.INTERNAL_SIGNING_SECRET }),
    persisted,
    bus,
    edge,
    usage,
    recheckKeysMs: env.SUBSCRIPTION_KEY_RECHECK_SECONDS * 1000,
    maxMessageBytes: env.MAX_REQUEST_BYTES,
    maxSubscriptionsPerConnection: env.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    metrics,
    log,
  });
  // Access changes (sessions ended, memberships and keys changed) reach every router instance at once.
  const accessEvents = startAccessEvents({
    bus,
    log,
    handlers: {
      sessionsEnded(sessionIds, untilMs) {
        sessions.end(sessionIds, untilMs);
        subscriptions.onAccessChange.sessionsEnded(sessionIds);
      },
      membershipsChanged: (userIds) => subscriptions.onAccessChange.membershipsChanged(userIds),
      apiKeysChanged(keys) {
        authenticator.forgetApiKeys(keys.map((key) => key.keyHash));
        subscriptions.onAccessChange.apiKeysChanged(keys.map((key) => key.apiKeyId));
      },
    },
  });
  await Promise.all([sessions.loaded, accessEvents.started]);
  const port = await listen(server, env.PORT, env.HOST);
  log.info({ port }, `router ready at http://localhost:${port}/graphql`);

  return {
    server,
    port,
    metrics,
    async close() {
      concurrency.close();
      await accessEvents.stop();
      sessions.close();
      await subscriptions.close();
      await closeServer(server);
      await apollo.stop();
      await usage?.close();
      await queueDashboard.close();
    },
  };
}
