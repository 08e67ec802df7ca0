import { HeaderMap } from '@apollo/server';
import { describe, expect, it } from 'vitest';
import { cacheControlOf } from './cache-control.ts';
import type { EdgeInfo } from './context.ts';
import { edgeTestEnv, edgeTestSupergraph } from './fixtures/edge-schema.ts';
import { createOperationAnalyses } from './operation-analyses.ts';
import type { AnalyzedOperation } from './operation.ts';

const env = { PUBLIC_CACHE_FIELDS: new Set(['users']), PUBLIC_CACHE_MAX_AGE_SECONDS: 60 };
const analyses = createOperationAnalyses(edgeTestEnv);
analyses.setSupergraph(edgeTestSupergraph);
const infoOf = (query: string): EdgeInfo => ({
  operation: analyses.analysisOf({ query }).entry.analysis as AnalyzedOperation,
  operationHash: 'h',
  estimatedCost: 1,
  includeCost: false,
  denied: [],
  empty: false,
});
const ok = (string = '{"data":{}}', status = 200) => ({ status, body: { kind: 'complete' as const, string }, headers: new HeaderMap() });

describe('cacheControlOf', () => {
  it('lets shared caches keep an anonymous query of public fields only', () => {
    expect(cacheControlOf(env, 'anonymous', infoOf('{ users { id } }'), ok())).toBe('public, max-age=60');
    expect(cacheControlOf(env, 'anonymous', infoOf('{ users { id } me { id } }'), ok())).toBe('private, max-age=0, must-revalidate');
    expect(cacheControlOf(env, 'user', infoOf('{ users { id } }'), ok())).toBe('private, max-age=0, must-revalidate');
  });

  it('stores nothing of a mutation, an error, a refusal, or an operation the edge did not see', () => {
    expect(cacheControlOf(env, 'anonymous', infoOf('mutation { rename(name: "x") { id } }'), ok())).toBe('no-store');
    expect(cacheControlOf(env, 'anonymous', infoOf('{ users { id } }'), ok('{"data":null,"errors":[]}'))).toBe('no-store');
    expect(cacheControlOf(env, 'anonymous', infoOf('{ users { id } }'), ok('{}', 400))).toBe('no-store');
    expect(cacheControlOf(env, 'anonymous', undefined, ok())).toBe('no-store');
  });
});
