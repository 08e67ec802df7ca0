import { createHash } from 'node:crypto';
import { print } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Identity } from '@mindweave/service-kit';
import type { OperationRequest } from './edge.ts';
import type { RouterEnv } from './env.ts';
import { analyzeOperation, authorize, estimateCost, type AnalyzedOperation, type Caller } from './operation.ts';
import { indexSupergraph, type SchemaIndex } from './schema-index.ts';

/** What is known of one document (and operation name) once analyzed; a violation or null refuse it or leave it to Apollo Server. */
export interface DocumentAnalysis {
  analysis: AnalyzedOperation | { violation: string } | null;
  /** Without variables in it, the estimate is the same for every request: computed once, then kept in `cost`. */
  costIsStatic: boolean;
  cost?: number;
  /** sha256 (hex) of the document as sent. */
  hash: string;
}

/** What a caller may run of a document: the query without the fields it may not see. */
export interface DocumentAuthorization {
  query: string;
  denied: { path: string[] }[];
  empty: boolean;
}

type AnalysesEnv = Pick<
  RouterEnv,
  'MAX_DEPTH' | 'MAX_ALIASES' | 'MAX_DIRECTIVES' | 'MAX_ROOT_FIELDS' | 'MAX_TOKENS' | 'DEFAULT_LIST_SIZE' | 'USER_SCOPES'
>;

/** What decides the fields a caller may see: whether it is authenticated, and its scopes. */
export const callerOf = (env: Pick<RouterEnv, 'USER_SCOPES'>, identity: Identity): Caller => ({
  authenticated: identity.kind === 'user' || identity.kind === 'apiKey',
  scopes: identity.kind === 'apiKey' ? new Set(identity.scopes) : identity.kind === 'user' ? env.USER_SCOPES : new Set(),
});
const callerKey = (caller: Caller) => `${caller.authenticated ? 1 : 0}:${[...caller.scopes].sort().join(',')}`;

/**
 * Analyses of documents against the supergraph, cached per document (and, for authorization, per
 * kind of caller), so that a repeated operation costs a map lookup. A new supergraph clears them.
 */
export function createOperationAnalyses(env: AnalysesEnv) {
  let index: SchemaIndex | undefined;
  // About 13 KB an analysis of a document the size of the federation benchmark's TestQuery: 2,000
  // of them keep the heap well below the router's old space under a stream of distinct documents.
  const analyses = new LRUCache<string, DocumentAnalysis>({ max: 2_000 });
  const authorizations = new LRUCache<string, DocumentAuthorization>({ max: 2_000 });
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

  /** The request's document analysis, and the key it is cached under. */
  function analysisOf(request: OperationRequest) {
    const key = `${request.operationName ?? ''}\n${request.query}`;
    let entry = analyses.get(key);
    if (!entry) {
      const analysis = index ? analyzeOperation(index, request.query ?? '', request.operationName, limits) : null;
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

  /** The estimated cost of running the analyzed document with these variables; throws CostError for variables it cannot price. */
  function costOf(
    schemaIndex: SchemaIndex,
    entry: DocumentAnalysis,
    analysis: AnalyzedOperation,
    variables: OperationRequest['variables'],
  ) {
    return entry.costIsStatic
      ? (entry.cost ??= estimateCost(schemaIndex, analysis, undefined, env.DEFAULT_LIST_SIZE))
      : estimateCost(schemaIndex, analysis, variables, env.DEFAULT_LIST_SIZE);
  }

  /** What the caller may run of the document cached under `key` (analysisOf), whose text is `query`. */
  function authorizationOf(key: string, analysis: AnalyzedOperation, query: string, caller: Caller): DocumentAuthorization {
    const authKey = `${key}\n${callerKey(caller)}`;
    let authorization = authorizations.get(authKey);
    if (!authorization) {
      const result = authorize(analysis, caller);
      authorization = {
        query: result.document === analysis.document ? query : print(result.document),
        denied: result.denied,
        empty: result.empty,
      };
      authorizations.set(authKey, authorization);
    }
    return authorization;
  }

  return { setSupergraph, analysisOf, costOf, authorizationOf, index: () => index };
}
