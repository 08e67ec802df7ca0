import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { notFound } from '@mindweave/errors';
import { callInternalRoute, internalRoute, InternalRouteError, nullOn404, postAsService } from '@mindweave/service-kit';
import { serviceRoute } from './server.ts';

// One contract, served by serviceRoute and called by callInternalRoute, over real HTTP.

const secret = 's'.repeat(40);
const greetingRoute = internalRoute('/internal/greeting', z.object({ name: z.string().min(1) }), z.object({ greeting: z.string() }));
// The same path, answering what its contract does not allow: what a caller must refuse.
const brokenRoute = internalRoute('/internal/broken', z.object({}), z.object({ greeting: z.string() }));

let answers: 'right' | 'wrong' = 'right';
const routes = [
  serviceRoute(greetingRoute, secret, async ({ name }) => (name === 'nobody' ? notFound('Person') : { greeting: `hello ${name}` })),
  serviceRoute(brokenRoute, secret, async () =>
    answers === 'right' ? { greeting: 'hi' } : ({ greeting: 42 } as unknown as { greeting: string }),
  ),
];
let server: Server;
let baseUrl = '';
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://test');
    for (const route of routes) if (await route(req, res, url)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const options = () => ({ baseUrl, signingSecret: secret, service: 'test', requestId: 'r1', timeoutMs: 2_000 });

describe('an internal route and its callers share one contract', () => {
  it('answers a body of the contract, parsed on both sides', async () => {
    expect(await callInternalRoute(greetingRoute, options(), { name: 'Ada' })).toEqual({ greeting: 'hello Ada' });
  });

  it("refuses a body outside the contract with BAD_USER_INPUT, and a handler's contract error with its status", async () => {
    const bad = await postAsService(new URL(greetingRoute.path, baseUrl), { ...options(), body: { name: 7 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    await expect(callInternalRoute(greetingRoute, options(), { name: '' })).rejects.toMatchObject({ status: 400 });
    await expect(callInternalRoute(greetingRoute, options(), { name: 'nobody' })).rejects.toBeInstanceOf(InternalRouteError);
    expect(await callInternalRoute(greetingRoute, options(), { name: 'nobody' }).catch(nullOn404)).toBeNull();
  });

  it('refuses unsigned callers and callers signed with another secret', async () => {
    const unsigned = await fetch(new URL(greetingRoute.path, baseUrl), { method: 'POST', body: JSON.stringify({ name: 'Ada' }) });
    expect(unsigned.status).toBe(401);
    await expect(callInternalRoute(greetingRoute, { ...options(), signingSecret: 'x'.repeat(40) }, { name: 'Ada' })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('makes the caller refuse an answer outside the contract', async () => {
    expect(await callInternalRoute(brokenRoute, options(), {})).toEqual({ greeting: 'hi' });
    answers = 'wrong';
    await expect(callInternalRoute(brokenRoute, options(), {})).rejects.toThrow(/outside its contract/);
  });
});
