import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '@mindweave/service-kit';
import { createEdge } from './edge.ts';
import { inMemoryLimiter } from './fixtures/edge-limiter.ts';
import { edgeTestEnv, edgeTestSupergraph } from './fixtures/edge-schema.ts';
import type { RouterEnv } from './env.ts';
import { createMetrics } from './metrics.ts';
import { minute } from './request-limits.ts';

const env = {
  ...edgeTestEnv,
  MAX_OPERATION_COST: 20,
  RATE_LIMIT_PER_MINUTE: 100,
  API_KEY_RATE_LIMIT_PER_MINUTE: 100,
  COST_BUDGET_PER_MINUTE: 1_000,
  AUTH_RATE_LIMIT_PER_MINUTE: 1,
  AUTH_BLOCK_SECONDS: 60,
} as RouterEnv;
const user: Identity = { kind: 'user', userId: 'u' };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Math.ceil(Date.now() / minute) * minute + 15_000);
});
afterEach(() => void vi.useRealTimers());

function edgeOf() {
  const { limiter, close } = inMemoryLimiter();
  const metrics = createMetrics();
  const edge = createEdge(env, limiter, metrics);
  edge.setSupergraph(edgeTestSupergraph);
  const rejections = async () => Object.fromEntries((await metrics.rejections.get()).values.map((v) => [v.labels['reason'], v.value]));
  return { edge, close, rejections };
}

describe('the edge', () => {
  it('admits a batch with what it learned of each operation, the rewritten queries and the rate headers', async () => {
    const { edge, close } = edgeOf();
    const admission = await edge.admit(
      { kind: 'anonymous' },
      'ip',
      [{ query: '{ me { id secret } }' }, { query: '{ users(first: 3) { id } }', extensions: { includeCost: true } }, { query: '{ me {' }],
      false,
    );
    if (!admission.ok) throw admission.error;
    expect(admission.requests.map((r) => r.query?.replace(/\s+/g, ' '))).toEqual(['{ me { id } }', '{ users(first: 3) { id } }', '{ me {']);
    const infos = [...admission.edge.values()];
    expect(infos.map((i) => [i.estimatedCost, i.includeCost, i.denied.length])).toEqual([
      [1, false, 1],
      [3, true, 0],
    ]);
    expect(admission.headers['x-ratelimit-remaining']).toBe('99');
    close();
  });

  it('sends an operation left with nothing to run as { __typename }', async () => {
    const { edge, close } = edgeOf();
    const admission = await edge.admit(user, 'ip', [{ query: '{ audit { entries } }', extensions: { x: 1 } }], false);
    if (!admission.ok) throw admission.error;
    expect(admission.requests).toEqual([{ query: '{ __typename }', extensions: { x: 1 } }]);
    expect(admission.edge.get('{ __typename }')?.empty).toBe(true);
    close();
  });

  it('refuses a document over a limit or the maximum cost, counting the request and the reason', async () => {
    const { edge, close, rejections } = edgeOf();
    const costly = await edge.admit(user, 'ip', [{ query: '{ expensive }' }], false);
    expect(costly).toMatchObject({ ok: false, status: 400, error: { code: 'COST_LIMIT_EXCEEDED' } });
    const deep = await edge.admit(
      user,
      'ip',
      [{ query: '{ me { friends { friends { friends { friends { friends { friends { id } } } } } } } }' }],
      false,
    );
    expect(deep).toMatchObject({ ok: false, status: 400, error: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(deep.headers['x-ratelimit-remaining']).toBe('98');
    expect(await rejections()).toEqual({ cost_limit: 1, document_limit: 1 });
    close();
  });

  it('limits credential mutations per IP and email, after the request limits', async () => {
    const { edge, close, rejections } = edgeOf();
    const login = {
      query: 'mutation ($input: LoginInput!) { login(input: $input) }',
      variables: { input: { email: 'a@x.io', password: 'p' } },
    };
    expect((await edge.admit({ kind: 'anonymous' }, 'ip', [login], false)).ok).toBe(true);
    const refused = await edge.admit({ kind: 'anonymous' }, 'ip', [login], false);
    expect(refused).toMatchObject({ ok: false, status: 429, headers: { 'retry-after': '60' } });
    expect((await edge.admit({ kind: 'anonymous' }, 'ip', [{ query: '{ me { id } }' }], false)).ok).toBe(true);
    expect(await rejections()).toEqual({ auth_limit: 1 });
    close();
  });

  it('admits everything unexamined until a supergraph is loaded', async () => {
    const { limiter, close } = inMemoryLimiter();
    const edge = createEdge(env, limiter, createMetrics());
    const admission = await edge.admit(user, 'ip', [{ query: '{ expensive }' }], false);
    expect(admission).toMatchObject({ ok: true, requests: [{ query: '{ expensive }' }] });
    expect(edge.schema()).toBeUndefined();
    close();
  });
});
