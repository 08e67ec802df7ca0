import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { Redis } from 'ioredis';
import { ErrorCode, errorBody, isErrorCode, MindweaveError } from '@mindweave/errors';
import { closeServer, createHealthRoutes, listen, requestIdFrom, sendJson, type Logger } from '@mindweave/service-kit';
import { createAuthenticator } from './auth.ts';
import type { RouterContext } from './context.ts';
import type { RouterEnv } from './env.ts';
import { createGateway } from './gateway.ts';
import { operationLogPlugin } from './operation-log.ts';

// Apollo Server's own codes, mapped onto the contract's.
const apolloCodes: Record<string, ErrorCode> = {
  BAD_REQUEST: ErrorCode.BAD_USER_INPUT,
  OPERATION_RESOLUTION_FAILURE: ErrorCode.BAD_USER_INPUT,
  PERSISTED_QUERY_NOT_SUPPORTED: ErrorCode.PERSISTED_QUERY_NOT_FOUND,
};

/** Every error leaves with a contract code; internals are hidden outside development. */
export function formatError(development: boolean) {
  return (formatted: GraphQLFormattedError): GraphQLFormattedError => {
    const raw = formatted.extensions?.['code'];
    const code = isErrorCode(raw) ? raw : (apolloCodes[String(raw)] ?? ErrorCode.INTERNAL_SERVER_ERROR);
    const { stacktrace, serviceName, ...extensions } = formatted.extensions ?? {};
    if (development) return { ...formatted, extensions: { ...extensions, code, serviceName, stacktrace } };
    const message = code === ErrorCode.INTERNAL_SERVER_ERROR ? 'Internal server error' : formatted.message;
    return { message, locations: formatted.locations, path: formatted.path, extensions: { ...extensions, code } };
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new MindweaveError(ErrorCode.BAD_USER_INPUT, `Request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new MindweaveError(ErrorCode.BAD_USER_INPUT, `Request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonBody(text: string, contentType: string | undefined): unknown {
  if (!text) return undefined;
  if (!contentType?.includes('json')) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Request body is not valid JSON');
  }
}

async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse) {
  res.statusCode = response.status ?? 200;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

export interface RouterDeps {
  env: RouterEnv;
  log: Logger;
  redis: Redis;
}

export async function startRouter({ env, log, redis }: RouterDeps) {
  const development = env.NODE_ENV === 'development';
  const gateway = createGateway({ supergraphPath: env.SUPERGRAPH_PATH, subgraphUrls: env.SUBGRAPH_URLS, signingSecret: env.INTERNAL_SIGNING_SECRET, log });
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    logger: log,
    formatError: formatError(development),
    includeStacktraceInErrorResponses: development,
    introspection: env.NODE_ENV !== 'production',
    // Credentials travel in headers, never in cookies, so cross-site requests carry no authority.
    csrfPrevention: false,
    plugins: [operationLogPlugin()],
  });
  await apollo.start();

  const authenticate = createAuthenticator({
    jwksUrl: env.IDENTITY_JWKS_URL,
    accountsUrl: env.ACCOUNTS_INTERNAL_URL,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    redis,
    apiKeyCacheTtlSeconds: env.API_KEY_CACHE_TTL_SECONDS,
    log,
  });

  const handleHealth = createHealthRoutes('router', {
    redis: () => redis.ping(),
    supergraph: async () => {
      const response = await fetch(env.IDENTITY_JWKS_URL, { signal: AbortSignal.timeout(1_500) });
      if (!response.ok) throw new Error(`identity JWKS answered ${response.status}`);
    },
  });

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return sendJson(res, 405, errorBody(new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Use GET or POST')), { allow: 'GET, POST' });
    }
    const requestLog = log.child({ requestId });
    const identity = await authenticate(req.headers, requestId);
    const body = req.method === 'POST' ? parseJsonBody(await readBody(req, env.MAX_REQUEST_BYTES), req.headers['content-type']) : undefined;
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method, headers, search: url.search, body },
      context: async () => ({ identity, requestId, log: requestLog }),
    });
    await writeResponse(res, response);
  }

  const server = createServer(async (req, res) => {
    const started = performance.now();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://router');
    try {
      if (await handleHealth(req, res, url.pathname)) return;
      if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found' });
      await handleGraphQL(req, res, url, requestId);
    } catch (error) {
      if (error instanceof MindweaveError) {
        if (!res.headersSent) sendJson(res, error.code === ErrorCode.UNAUTHENTICATED ? 401 : 400, errorBody(error));
      } else {
        log.error({ err: error, requestId }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId } }] });
      }
    } finally {
      log.debug({ requestId, method: req.method, path: url.pathname, status: res.statusCode, durationMs: Math.round(performance.now() - started) }, 'request');
    }
  });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, env.PORT, env.HOST);
  log.info({ port }, `router ready at http://localhost:${port}/graphql`);

  return {
    server,
    port,
    async close() {
      await closeServer(server);
      await apollo.stop();
    },
  };
}
