import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo } from './context.ts';
import { emailOf, limitCredentials, takesCredentials } from './credential-limit.ts';
import { edgeResponsePlugin } from './edge-response.ts';
import type { RouterEnv } from './env.ts';
import type { Metrics } from './metrics.ts';
import { CostError } from './operation.ts';
import { callerOf, createOperationAnalyses } from './operation-analyses.ts';
import type { RateLimiter } from './rate-limit.ts';
import { countRefused, limitRequests, type Refusal } from './request-limits.ts';

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

/**
 * The router's edge: everything decided before a subgraph is called. Rate limits per IP and
 * identity (request-limits.ts), document limits, cost estimation against MAX_OPERATION_COST and the
 * identity's cost budget, removal of the fields the caller may not see (@authenticated,
 * @requiresScopes; operation-analyses.ts), and limits on credential attempts (credential-limit.ts).
 */
export function createEdge(env: RouterEnv, limiter: RateLimiter, metrics: Metrics) {
  const analyses = createOperationAnalyses(env);

  const refuse = ({ status, error, reason, headers }: Refusal): Admission => {
    metrics.rejections.inc({ reason });
    return { ok: false, status, error, headers };
  };

  async function admit(identity: Identity, ip: string, requests: OperationRequest[], includeCostHeader: boolean): Promise<Admission> {
    // A request refused for its document still counts against the request limits.
    const refuseCounted = async (status: number, error: MindweaveError, reason: string) =>
      refuse({ status, error, reason, headers: await countRefused(limiter, env, identity, ip) });
    const index = analyses.index();
    const caller = callerOf(env, identity);
    const edge = new Map<string, EdgeInfo>();
    const admitted: OperationRequest[] = [];
    let totalCost = 0;
    let credentialEmail: string | undefined | null = null;
    for (const request of requests) {
      if (typeof request.query !== 'string' || !index) {
        admitted.push(request);
        continue;
      }
      const { key, entry } = analyses.analysisOf(request);
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
      if (analysis.operation.operation === 'mutation' && takesCredentials(analysis.rootFields))
        credentialEmail = emailOf(request.variables);

      let cost: number;
      try {
        cost = analyses.costOf(index, entry, analysis, request.variables);
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

      const authorization = analyses.authorizationOf(key, analysis, request.query, caller);
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

    const { headers, refusal } = await limitRequests(limiter, env, identity, ip, totalCost);
    if (refusal) return refuse(refusal);
    if (credentialEmail !== null) {
      const credentialRefusal = await limitCredentials(limiter, env, ip, credentialEmail, headers);
      if (credentialRefusal) return refuse(credentialRefusal);
    }
    return { ok: true, requests: admitted, edge, headers };
  }

  return {
    setSupergraph: analyses.setSupergraph,
    admit,
    responsePlugin: edgeResponsePlugin({ maxOperationCost: env.MAX_OPERATION_COST, index: analyses.index, metrics }),
    schema: () => analyses.index()?.schema,
  };
}

export type Edge = ReturnType<typeof createEdge>;
