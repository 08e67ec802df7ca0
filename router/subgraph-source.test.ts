import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { createMetrics } from './metrics.ts';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-source.ts';

// What a mutation's fetch says about whether it may have been carried out. A subgraph stand-in
// answers each request with the reply queued for it; the fetch marks its operation
// `mutationMayHaveRun` unless the reply says that nothing of it ran.
let server: Server;
let reply: { status: number; contentType?: string; body: string } | 'reset' = { status: 200, body: '{}' };
let source: SubgraphDataSource;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  source = new SubgraphDataSource('accounts', url, createSubgraphAgent(2_000), 'secret', createMetrics(), false);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const fetchText = 'mutation($a:CreateProjectInput!,$b:CreateProjectInput!){a:createProject(input:$a){id}b:createProject(input:$b){id}}';

/** Sends the mutation fetch with `answer` queued; what it threw, and whether the operation was recorded as reached. */
async function mutate(answer: typeof reply, text = fetchText, to = source) {
  reply = answer;
  const context = {
    identity: { kind: 'anonymous' },
    requestId: 'r1',
    log: createLogger({ name: 'test', level: 'silent' }),
    edge: new Map(),
    subgraphTimings: [],
  } as unknown as RouterContext;
  const body = JSON.stringify({ query: text, variables: {} });
  const error = await to.send(body, { context, operationName: 'Two', query: false, text }).then(
    () => undefined,
    (thrown: GraphQLError) => thrown,
  );
  return { error, reached: context.mutationMayHaveRun ?? false };
}

const graphql = (value: unknown) => ({ status: 200, body: JSON.stringify(value) });
const rootError = (name: string, code: string) => ({ message: 'x', path: [name], extensions: { code } });

describe('a mutation fetch', () => {
  it('that its subgraph refused in whole is not reached: every root field refused, or refused before execution', async () => {
    const refused = await mutate(graphql({ data: null, errors: [rootError('a', 'UNAVAILABLE'), rootError('b', 'FORBIDDEN')] }));
    expect(refused).toEqual({ error: undefined, reached: false });
    expect((await mutate(graphql({ errors: [{ message: 'bad', extensions: { code: 'UNAUTHENTICATED' } }] }))).reached).toBe(false);
    const dependencyDown = await mutate({
      status: 503,
      body: JSON.stringify({ errors: [{ message: 'x', extensions: { code: 'UNAVAILABLE' } }] }),
    });
    expect(dependencyDown.reached).toBe(false);
    expect(dependencyDown.error?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
    expect((await mutate({ status: 401, body: '{"errors":[{"message":"signature"}]}' })).reached).toBe(false);
  });

  it('that may have been carried out is reached', async () => {
    // One root field answered.
    expect((await mutate(graphql({ data: { a: { id: '1' }, b: null }, errors: [rootError('b', 'UNAVAILABLE')] }))).reached).toBe(true);
    // `a` ran, `b` was refused: the non-null payload's error nulls the whole answer.
    expect((await mutate(graphql({ data: null, errors: [rootError('b', 'UNAVAILABLE')] }))).reached).toBe(true);
    // A root field resolved, then its payload failed.
    expect(
      (await mutate(graphql({ data: null, errors: [{ message: 'x', path: ['a', 'id'], extensions: { code: 'UNAVAILABLE' } }] }))).reached,
    ).toBe(true);
    // A root field failed in a way that is not a decision.
    expect(
      (await mutate(graphql({ data: null, errors: [rootError('a', 'INTERNAL_SERVER_ERROR'), rootError('b', 'FORBIDDEN')] }))).reached,
    ).toBe(true);
    expect((await mutate({ status: 500, body: '{"errors":[{"message":"x"}]}' })).reached).toBe(true);
    // A failure during execution answered without a path.
    expect((await mutate(graphql({ errors: [{ message: 'x', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }))).reached).toBe(true);
    expect((await mutate(graphql({ errors: [{ message: 'x', extensions: { code: 'UNAVAILABLE' } }] }))).reached).toBe(true);
  });

  it('that surely never left is UNAVAILABLE and not reached', async () => {
    const closed = new SubgraphDataSource('accounts', 'http://127.0.0.1:1/graphql', createSubgraphAgent(2_000), 'secret', createMetrics());
    const { error, reached } = await mutate(graphql({ data: null }), fetchText, closed);
    expect(error?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
    expect(reached).toBe(false);
  });

  it('whose answer was lost on the way is reached and answered with its outcome unknown, never UNAVAILABLE', async () => {
    for (const lost of [
      'reset' as const,
      { status: 502, contentType: 'text/html', body: '<html>bad gateway</html>' },
      { status: 504, contentType: 'text/html', body: 'timeout' },
      { status: 503, contentType: 'text/plain', body: 'upstream connect error or disconnect/reset before headers' },
      { status: 200, contentType: 'text/html', body: '<html>a proxy page</html>' },
    ]) {
      const { error, reached } = await mutate(lost);
      expect(reached, JSON.stringify(lost)).toBe(true);
      expect(error?.extensions, JSON.stringify(lost)).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown' });
    }
  });

  it('reads its root fields from its own text', async () => {
    // With only `a` in the fetch, `a` refused is all of it.
    const single = 'mutation($a:CreateProjectInput!){a:createProject(input:$a){id}}';
    expect((await mutate(graphql({ data: null, errors: [rootError('a', 'CONFLICT')] }), single)).reached).toBe(false);
    expect((await mutate(graphql({ data: null, errors: [rootError('a', 'CONFLICT')] }))).reached).toBe(true);
  });
});
