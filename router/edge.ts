import { createHash } from 'node:crypto';
import { print } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo, RouterContext } from './context.ts';
import type { RouterEnv } from './env.ts';
import { operationLabel, type Metrics } from './metrics.ts';
import { actualCost, analyzeOperation, authorize, CostError, estimateCost, type AnalyzedOperation, type Caller } from './operation.ts';
import type { Decision, Limit, RateLimiter } from './rate-limit.ts';
import { indexSupergraph, type SchemaIndex } from './schema-index.ts';

/** One GraphQL request as a client sent it (a batch holds several). */
export interface OperationRequest {
  query?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

export type Admission =
  | { ok: true; requests: OperationRequest[]; edge: Map<string, EdgeInfo>; headers: Record<string, string> }
  | { ok: false; status: number; error: MindweaveError; headers: Record<string, string> };

// The mutations that take credentials: limited per IP and per email, then blocked for a while.
const authMutations = new Set(['login', 'register', 'refreshToken', 'requestPasswordReset', 'resetPassword', 'verifyMfaLogin']);
const minute = 60_000;

function identityKey(identity: Identity, ip: string) {
  switch (identity.kind) {
    case 'user':
      return `user:${identity.userId}`;
    case 'apiKey':
      return `key:${identity.apiKeyId}`;
    default:
      return `ip:${ip}`;
  }
}

function rateHeaders(decision: Decision): Record<string, string> {
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(decision.resetSeconds),
  };
}

/** The decision whose numbers the X-RateLimit headers report: the refusing one, else the closest to refusing. */
const tightest = (decisions: Decision[]) =>
  decisions.reduce((a, b) => (b.exceeded && !a.exceeded ? b : b.remaining < a.remaining && a.exceeded === b.exceeded ? b : a));

function emailOf(request: OperationRequest): string | undefined {
  const input = request.variables?.['input'];
  const candidate =
    (typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['email'] : undefined) ?? request.variables?.['email'];
  return typeof candidate === 'string' ? candidate.trim().toLowerCase() : undefined;
}

/**
 * The router's edge: everything decided before a subgraph is called. Rate limits per IP and
 * identity, document limits, cost estimation against MAX_OPERATION_COST and the identity's cost
 * budget, and removal of the fields the caller may not see (@authenticated, @requiresScopes).
 * Analyses are cached per document, so a repeated operation costs a map lookup.
 */
export function createEdge(env: RouterEnv, limiter: RateLimiter, metrics: Metrics) {
  let index: SchemaIndex | undefined;
  // About 13 KB an analysis of a document the size of the federation benchmark's TestQuery: 2,000
  // of them keep the heap well below the router's old space under a stream of distinct documents.
  const analyses = new LRUCache<
    string,
    { analysis: AnalyzedOperation | { violation: string } | null; costIsStatic: boolean; cost?: number; hash: string }
  >({ max: 2_000 });
  const authorizations = new LRUCache<string, { query: string; denied: { path: string[] }[]; empty: boolean }>({ max: 2_000 });
  const limits = {
    maxDepth: env.MAX_DEPTH,
    maxAliases: env.MAX_ALIASES,
    maxDirectives: env.MAX_DIRECTIVES,
    maxRootFields: env.MAX_ROOT_FIELDS,
    maxTokens: env.MAX_TOKENS,
    defaultListSize: env.DEFAULT_LIST_SIZE,
  };

  function setSupergraph(supergraphSdl: string) {
    index = indexSupergraph(supergraphSdl);
    analyses.clear();
    authorizations.clear();
  }

  const callerOf = (identity: Identity): Caller => ({
    authenticated: identity.kind === 'user' || identity.kind === 'apiKey',
    scopes: identity.kind === 'apiKey' ? new Set(identity.scopes) : identity.kind === 'user' ? env.USER_SCOPES : new Set(),
  });
  const callerKey = (caller: Caller) => `${caller.authenticated ? 1 : 0}:${[...caller.scopes].sort().join(',')}`;

  function analysisOf(request: OperationRequest) {
    const key = `${request.operationName ?? ''}\n${request.query}`;
    let entry = analyses.get(key);
    if (!entry) {
      const analysis = index ? analyzeOperation(index, request.query ?? '', request.operationName, limits) : null;
      // Without variables in it, the estimate is the same for every request: compute it once.
      const costIsStatic = analysis !== null && 'document' in analysis && !analysis.operation.variableDefinitions?.length;
      entry = {
        analysis,
        costIsStatic,
        hash: createHash('sha256')
          .update(request.query ?? '')
          .digest('hex'),
      };
      analyses.set(key, entry);
    }
    return { key, entry };
  }

  const refuse = (status: number, error: MindweaveError, reason: string, headers: Record<string, string>): Admission => {
    metrics.rejections.inc({ reason });
    return { ok: false, status, error, headers };
  };

  const requestLimitsOf = (identity: Identity, ip: string): Limit[] => [
    { key: `ip:${ip}`, limit: env.RATE_LIMIT_PER_MINUTE, amount: 1 },
    ...(identity.kind === 'anonymous'
      ? []
      : [
          {
            key: identityKey(identity, ip),
            limit: identity.kind === 'apiKey' ? env.API_KEY_RATE_LIMIT_PER_MINUTE : env.RATE_LIMIT_PER_MINUTE,
            amount: 1,
          },
        ]),
  ];

  async function admit(identity: Identity, ip: string, requests: OperationRequest[], includeCostHeader: boolean): Promise<Admission> {
    // A request refused for its document still counts against the request limits.
    const refuseCounted = async (status: number, error: MindweaveError, reason: string) =>
      refuse(status, error, reason, rateHeaders(tightest(await limiter.consumeAll(requestLimitsOf(identity, ip), minute))));
    const caller = callerOf(identity);
    const edge = new Map<string, EdgeInfo>();
    const admitted: OperationRequest[] = [];
    let totalCost = 0;
    let credentialEmail: string | undefined | null = null;
    for (const request of requests) {
      if (typeof request.query !== 'string' || !index) {
        admitted.push(request);
        continue;
      }
      const { key, entry } = analysisOf(request);
      const analysis = entry.analysis;
      if (analysis === null) {
        admitted.push(request); // Apollo Server reports the syntax or validation error.
        continue;
      }
      if (!('document' in analysis) || analysis.violation) {
        return refuseCounted(
          400,
          new MindweaveError(ErrorCode.GRAPHQL_VALIDATION_FAILED, analysis.violation ?? 'Invalid document'),
          'document_limit',
        );
      }
      if (analysis.operation.operation === 'mutation' && analysis.rootFields.some((f) => authMutations.has(f)))
        credentialEmail = emailOf(request);

      let cost: number;
      try {
        cost = entry.costIsStatic
          ? (entry.cost ??= estimateCost(index, analysis, undefined, env.DEFAULT_LIST_SIZE))
          : estimateCost(index, analysis, request.variables, env.DEFAULT_LIST_SIZE);
      } catch (error) {
        if (error instanceof CostError)
          return refuseCounted(400, new MindweaveError(ErrorCode.GRAPHQL_VALIDATION_FAILED, error.message), 'document_limit');
        throw error;
      }
      if (cost > env.MAX_OPERATION_COST) {
        return refuseCounted(
          400,
          new MindweaveError(ErrorCode.COST_LIMIT_EXCEEDED, `Operation cost ${cost} exceeds the maximum of ${env.MAX_OPERATION_COST}`, {
            cost,
            maxCost: env.MAX_OPERATION_COST,
          }),
          'cost_limit',
        );
      }
      totalCost += cost;

      const authKey = `${key}\n${callerKey(caller)}`;
      let authorization = authorizations.get(authKey);
      if (!authorization) {
        const result = authorize(analysis, caller);
        authorization = {
          query: result.document === analysis.document ? request.query : print(result.document),
          denied: result.denied,
          empty: result.empty,
        };
        authorizations.set(authKey, authorization);
      }
      // An operation left with nothing to run still goes through Apollo Server as `{ __typename }`, so
      // that batches and response handling stay uniform; its data is replaced by null.
      const query = authorization.empty ? '{ __typename }' : authorization.query;
      const includeCost = includeCostHeader || request.extensions?.['includeCost'] === true;
      edge.set(query, {
        operation: analysis,
        operationHash: entry.hash,
        estimatedCost: cost,
        includeCost,
        denied: authorization.denied,
        empty: authorization.empty,
      });
      if (query === request.query) admitted.push(request);
      else if (authorization.empty) admitted.push(request.extensions ? { query, extensions: request.extensions } : { query });
      else admitted.push({ ...request, query });
    }

    // Request counts and cost budget, checked (and spent) together in one round trip.
    const limits = requestLimitsOf(identity, ip);
    const requestLimits = limits.length;
    if (totalCost > 0) limits.push({ key: `cost:${identityKey(identity, ip)}`, limit: env.COST_BUDGET_PER_MINUTE, amount: totalCost });
    const decisions = await limiter.consumeAll(limits, minute);
    const requestDecision = tightest(decisions.slice(0, requestLimits));
    const headers = rateHeaders(requestDecision);
    if (!requestDecision.allowed) {
      const budget = decisions[requestLimits];
      if (decisions.slice(0, requestLimits).some((d) => d.exceeded) || !budget) {
        return refuse(
          429,
          new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many requests', { retryAfter: requestDecision.retryAfterSeconds }),
          'rate_limit',
          {
            ...headers,
            'retry-after': String(requestDecision.retryAfterSeconds),
          },
        );
      }
      return refuse(
        429,
        new MindweaveError(ErrorCode.RATE_LIMITED, `Cost budget of ${env.COST_BUDGET_PER_MINUTE} a minute spent`, {
          retryAfter: budget.retryAfterSeconds,
          cost: totalCost,
        }),
        'cost_budget',
        {
          ...headers,
          'retry-after': String(budget.retryAfterSeconds),
        },
      );
    }
    if (credentialEmail !== null) {
      const refusal = await limitCredentials(ip, credentialEmail, headers);
      if (refusal) return refusal;
    }
    return { ok: true, requests: admitted, edge, headers };
  }

  async function limitCredentials(ip: string, email: string | undefined, headers: Record<string, string>): Promise<Admission | null> {
    const keys = [`auth-ip:${ip}`, ...(email ? [`auth-email:${createHash('sha256').update(email).digest('hex')}`] : [])];
    for (const key of keys) {
      const blocked = await limiter.blockedFor(key);
      if (blocked > 0)
        return refuse(
          429,
          new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many attempts; try again later', { retryAfter: blocked }),
          'auth_blocked',
          { ...headers, 'retry-after': String(blocked) },
        );
    }
    for (const key of keys) {
      const decision = await limiter.consume(key, env.AUTH_RATE_LIMIT_PER_MINUTE, minute);
      if (!decision.allowed) {
        await limiter.block(key, env.AUTH_BLOCK_SECONDS);
        return refuse(
          429,
          new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many attempts; try again later', { retryAfter: env.AUTH_BLOCK_SECONDS }),
          'auth_limit',
          {
            ...headers,
            'retry-after': String(env.AUTH_BLOCK_SECONDS),
          },
        );
      }
    }
    return null;
  }

  /** After execution: report removed fields, attach the estimate, measure the actual cost. */
  const responsePlugin: ApolloServerPlugin<RouterContext> = {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, request, response }) {
          const info = request.query ? contextValue.edge.get(request.query) : undefined;
          if (!info || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (info.empty) result.data = null;
          if (info.denied.length) {
            const { code, message } = refusalOf(contextValue.identity);
            const refused = info.denied.map((d) => ({ message: `${message} ${d.path.join('.')}`, path: d.path, extensions: { code } }));
            result.errors = [...(result.errors ?? []), ...refused];
            if (result.data) for (const d of info.denied) setNullAt(result.data, d.path);
          }
          if (info.includeCost)
            result.extensions = { ...result.extensions, cost: { estimated: info.estimatedCost, max: env.MAX_OPERATION_COST } };
          const label = operationLabel(info.operation.operation.name?.value);
          metrics.estimatedCost.observe({ operation: label }, info.estimatedCost);
          if (index && result.data) {
            info.actualCost = actualCost(index, info.operation, result.data);
            metrics.actualCost.observe({ operation: label }, info.actualCost);
          }
        },
      };
    },
  };

  return { setSupergraph, admit, responsePlugin, schema: () => index?.schema };
}

/**
 * How a field the caller may not see is reported: an anonymous caller lacks credentials
 * (UNAUTHENTICATED), an authenticated one the scope (FORBIDDEN), as the contract tells them apart.
 */
export function refusalOf(identity: Identity): { code: ErrorCode; message: string } {
  return identity.kind === 'anonymous'
    ? { code: ErrorCode.UNAUTHENTICATED, message: 'Sign in to see' }
    : { code: ErrorCode.FORBIDDEN, message: 'Not allowed to see' };
}

/** Puts null where a removed field would have been, under every list on the way. */
function setNullAt(data: unknown, path: string[]) {
  if (data === null || typeof data !== 'object') return;
  if (Array.isArray(data)) {
    for (const item of data) setNullAt(item, path);
    return;
  }
  const [head, ...rest] = path;
  if (head === undefined) return;
  const record = data as Record<string, unknown>;
  if (rest.length === 0) {
    if (!(head in record)) record[head] = null;
    return;
  }
  setNullAt(record[head], rest);
}

export type Edge = ReturnType<typeof createEdge>;
