import { describe, expect, it } from 'vitest';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo } from './context.ts';
import { edgeResponsePlugin, refusalOf, setNullAt } from './edge-response.ts';
import { edgeTestEnv, edgeTestSupergraph } from './fixtures/edge-schema.ts';
import { createMetrics } from './metrics.ts';
import { createOperationAnalyses } from './operation-analyses.ts';
import type { AnalyzedOperation } from './operation.ts';

describe('refusalOf', () => {
  it('tells an anonymous caller to sign in, and an authenticated one that it may not', () => {
    expect(refusalOf({ kind: 'anonymous' })).toEqual({ code: 'UNAUTHENTICATED', message: 'Sign in to see' });
    expect(refusalOf({ kind: 'user', userId: 'u' })).toEqual({ code: 'FORBIDDEN', message: 'Not allowed to see' });
  });
});

describe('setNullAt', () => {
  it('puts null where a removed field would have been, under every list, leaving present values', () => {
    const data = { me: { friends: [{ id: '1' }, { id: '2', secret: 's' }], id: 'u' }, other: null };
    setNullAt(data, ['me', 'friends', 'secret']);
    setNullAt(data, ['other', 'x']);
    setNullAt(data, []);
    expect(data).toEqual({
      me: {
        friends: [
          { id: '1', secret: null },
          { id: '2', secret: 's' },
        ],
        id: 'u',
      },
      other: null,
    });
  });
});

/** Runs the plugin's willSendResponse on a response with `data`, for a request the edge admitted with `info`. */
async function respond(info: Partial<EdgeInfo> & { query: string }, data: Record<string, unknown> | null, identity: Identity) {
  const analyses = createOperationAnalyses(edgeTestEnv);
  analyses.setSupergraph(edgeTestSupergraph);
  const operation = analyses.analysisOf({ query: info.query }).entry.analysis as AnalyzedOperation;
  const metrics = createMetrics();
  const plugin = edgeResponsePlugin({ maxOperationCost: 500, index: analyses.index, metrics });
  const edgeInfo: EdgeInfo = { operation, operationHash: 'h', estimatedCost: 7, includeCost: false, denied: [], empty: false, ...info };
  const result: { data: Record<string, unknown> | null; errors?: unknown[]; extensions?: Record<string, unknown> } = { data };
  const listener = await plugin.requestDidStart!({} as never);
  await listener!.willSendResponse!({
    contextValue: { identity, edge: new Map([[info.query, edgeInfo]]) },
    request: { query: info.query },
    response: { body: { kind: 'single', singleResult: result } },
  } as never);
  return { result, edgeInfo, metrics };
}

describe('the edge response plugin', () => {
  it('reports each removed field with the refusal for the caller, and puts null in its place', async () => {
    const { result } = await respond(
      { query: '{ me { id } }', denied: [{ path: ['me', 'secret'] }] },
      { me: { id: 'u' } },
      { kind: 'anonymous' },
    );
    expect(result.data).toEqual({ me: { id: 'u', secret: null } });
    expect(result.errors).toEqual([
      { message: 'Sign in to see me.secret', path: ['me', 'secret'], extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('answers data null for an operation left with nothing to run', async () => {
    const { result } = await respond({ query: '{ __typename }', empty: true }, { __typename: 'Query' }, { kind: 'user', userId: 'u' });
    expect(result.data).toBeNull();
  });

  it('attaches the estimate when asked, and measures the actual cost', async () => {
    const { result, edgeInfo, metrics } = await respond(
      { query: '{ users(first: 4) { id } }', includeCost: true },
      { users: [{ id: '1' }, { id: '2' }] },
      { kind: 'user', userId: 'u' },
    );
    expect(result.extensions).toEqual({ cost: { estimated: 7, max: 500 } });
    expect(edgeInfo.actualCost).toBe(2);
    expect((await metrics.estimatedCost.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value).toBe(7);
  });

  it('leaves alone a response the edge did not see', async () => {
    const analyses = createOperationAnalyses(edgeTestEnv);
    const plugin = edgeResponsePlugin({ maxOperationCost: 500, index: analyses.index, metrics: createMetrics() });
    const result = { data: { a: 1 } };
    const listener = await plugin.requestDidStart!({} as never);
    await listener!.willSendResponse!({
      contextValue: { identity: { kind: 'anonymous' }, edge: new Map() },
      request: { query: '{ a }' },
      response: { body: { kind: 'single', singleResult: result } },
    } as never);
    expect(result).toEqual({ data: { a: 1 } });
  });
});
