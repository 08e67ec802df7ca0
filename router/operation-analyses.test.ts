import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { edgeTestEnv, edgeTestSupergraph } from './fixtures/edge-schema.ts';
import { callerOf, createOperationAnalyses } from './operation-analyses.ts';
import type { AnalyzedOperation } from './operation.ts';

function loaded() {
  const analyses = createOperationAnalyses(edgeTestEnv);
  analyses.setSupergraph(edgeTestSupergraph);
  return analyses;
}
const analyzedOf = (analysis: unknown) => {
  if (!analysis || typeof analysis !== 'object' || !('document' in analysis)) throw new Error('not analyzed');
  return analysis as AnalyzedOperation;
};

describe('callerOf', () => {
  it('gives an API key its scopes, a user USER_SCOPES, and anyone else none', () => {
    expect(callerOf(edgeTestEnv, { kind: 'apiKey', apiKeyId: 'k', projectId: 'p', organizationId: 'o', scopes: ['audit:read'] })).toEqual({
      authenticated: true,
      scopes: new Set(['audit:read']),
    });
    expect(callerOf(edgeTestEnv, { kind: 'user', userId: 'u' })).toEqual({ authenticated: true, scopes: edgeTestEnv.USER_SCOPES });
    expect(callerOf(edgeTestEnv, { kind: 'anonymous' })).toEqual({ authenticated: false, scopes: new Set() });
  });
});

describe('the operation analyses', () => {
  it('analyze nothing before a supergraph is loaded', () => {
    const analyses = createOperationAnalyses(edgeTestEnv);
    expect(analyses.index()).toBeUndefined();
    expect(analyses.analysisOf({ query: '{ me { id } }' }).entry.analysis).toBeNull();
  });

  it('analyze a document once per operation name, with the hash of the text as sent', () => {
    const analyses = loaded();
    const first = analyses.analysisOf({ query: '{ me { id } }' });
    expect(analyses.analysisOf({ query: '{ me { id } }' }).entry).toBe(first.entry);
    expect(analyses.analysisOf({ query: '{ me { id } }', operationName: 'Other' }).entry).not.toBe(first.entry);
    expect(first.entry.hash).toBe(createHash('sha256').update('{ me { id } }').digest('hex'));
  });

  it('leave a document with syntax or schema errors to Apollo Server, and report a broken limit', () => {
    const analyses = loaded();
    expect(analyses.analysisOf({ query: '{ me {' }).entry.analysis).toBeNull();
    expect(analyses.analysisOf({ query: '{ nope }' }).entry.analysis).toBeNull();
    const deep = analyzedOf(
      analyses.analysisOf({ query: '{ me { friends { friends { friends { friends { friends { friends { id } } } } } } } }' }).entry
        .analysis,
    );
    expect(deep.violation).toMatch(/depth/i);
  });

  it('keep the estimate of a document without variables, and price one with variables per request', () => {
    const analyses = loaded();
    const index = analyses.index()!;
    const fixed = analyses.analysisOf({ query: '{ users(first: 4) { id } }' }).entry;
    expect(fixed.costIsStatic).toBe(true);
    expect(analyses.costOf(index, fixed, analyzedOf(fixed.analysis), undefined)).toBe(4);
    expect(fixed.cost).toBe(4);
    const varying = analyses.analysisOf({ query: 'query ($n: Int) { users(first: $n) { id } }' }).entry;
    expect(varying.costIsStatic).toBe(false);
    expect(analyses.costOf(index, varying, analyzedOf(varying.analysis), { n: 2 })).toBe(2);
    expect(analyses.costOf(index, varying, analyzedOf(varying.analysis), { n: 9 })).toBe(9);
    expect(varying.cost).toBeUndefined();
  });

  it('remove the fields a caller may not see, per kind of caller, keeping the text when nothing is removed', () => {
    const analyses = loaded();
    const query = '{ me { id secret } }';
    const { key, entry } = analyses.analysisOf({ query });
    const analysis = analyzedOf(entry.analysis);
    const anonymous = analyses.authorizationOf(key, analysis, query, callerOf(edgeTestEnv, { kind: 'anonymous' }));
    expect(anonymous.denied.map((d) => d.path)).toEqual([['me', 'secret']]);
    expect(anonymous.query).not.toContain('secret');
    expect(anonymous.empty).toBe(false);
    const user = analyses.authorizationOf(key, analysis, query, callerOf(edgeTestEnv, { kind: 'user', userId: 'u' }));
    expect(user).toEqual({ query, denied: [], empty: false });
    expect(analyses.authorizationOf(key, analysis, query, callerOf(edgeTestEnv, { kind: 'user', userId: 'v' }))).toBe(user);
  });

  it('tell when nothing is left to run', () => {
    const analyses = loaded();
    const query = '{ audit { entries } }';
    const { key, entry } = analyses.analysisOf({ query });
    expect(
      analyses.authorizationOf(key, analyzedOf(entry.analysis), query, callerOf(edgeTestEnv, { kind: 'user', userId: 'u' })).empty,
    ).toBe(true);
  });

  it('forget every analysis when the supergraph changes', () => {
    const analyses = loaded();
    const before = analyses.analysisOf({ query: '{ me { id } }' }).entry;
    analyses.setSupergraph(edgeTestSupergraph);
    expect(analyses.analysisOf({ query: '{ me { id } }' }).entry).not.toBe(before);
  });
});
