import { afterEach, describe, expect, it, vi } from 'vitest';
import manifest from '../persisted-documents.json' with { type: 'json' };
import { createMindWeaveClient } from './client.ts';
import { MindWeaveError } from './errors.ts';
import { CreateApiKeyDocument, McpServersDocument, MeDocument, RecordUsageDocument, UsageUpdatedDocument } from './gql/graphql.ts';

type Reply = Response | Error;
/** A fetch that answers from a script and records what it was sent. */
function fakeFetch(...replies: Reply[]) {
  const calls: { url: string; method: string; headers: Record<string, string>; body: Record<string, any> | undefined }[] = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const reply = replies.shift() ?? new Error('no more replies');
    if (reply instanceof Error) throw reply;
    return reply;
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const networkError = () => new TypeError('fetch failed');
const rateLimited = (retryAfter?: string) =>
  json(
    { errors: [{ message: 'Too many requests', extensions: { code: 'RATE_LIMITED', retryAfter: Number(retryAfter ?? 1) } }] },
    429,
    retryAfter ? { 'retry-after': retryAfter } : {},
  );
/** The router's answer to a mutation that may have been carried out although its answer was lost. */
const outcomeUnknown = () =>
  json(
    {
      data: null,
      errors: [{ message: 'This mutation may have been carried out', extensions: { code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown' } }],
    },
    502,
  );
const me = { me: { id: 'u1' } };
const url = 'http://router.test/graphql';
const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5_000 };

afterEach(() => {
  vi.useRealTimers();
});

describe('requests', () => {
  it('send the manifest hash alone, with the operation name and variables', async () => {
    const { fetch, calls } = fakeFetch(json({ data: { recordUsage: { accepted: 1, duplicates: 0 } } }));
    const client = createMindWeaveClient({ url, fetch, auth: { apiKey: 'mw_sk_test' } });
    const input = { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 2, latencyMs: 3 };
    expect(await client.request(RecordUsageDocument, { input })).toEqual({ recordUsage: { accepted: 1, duplicates: 0 } });
    const [call] = calls;
    expect(call).toMatchObject({
      url,
      method: 'POST',
      headers: { authorization: 'Bearer mw_sk_test', 'content-type': 'application/json' },
    });
    const hash = call!.body!['extensions'].persistedQuery.sha256Hash as string;
    expect(call!.body).toEqual({
      operationName: 'RecordUsage',
      variables: { input },
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    });
    expect((manifest as Record<string, string>)[hash]).toMatch(/ mutation RecordUsage\(/);
  });

  it('take a JWT, or ask a function for the credential on every request', async () => {
    const jwt = fakeFetch(json({ data: me }));
    await createMindWeaveClient({ url, fetch: jwt.fetch, auth: { accessToken: 'eyJ.jwt' } }).request(MeDocument);
    expect(jwt.calls[0]!.headers['authorization']).toBe('Bearer eyJ.jwt');

    let n = 0;
    const dynamic = fakeFetch(json({ data: me }), json({ data: me }));
    const client = createMindWeaveClient({ url, fetch: dynamic.fetch, auth: async () => `token-${++n}` });
    await client.request(MeDocument);
    await client.request(MeDocument);
    expect(dynamic.calls.map((c) => c.headers['authorization'])).toEqual(['Bearer token-1', 'Bearer token-2']);

    const anonymous = fakeFetch(json({ data: { me: null } }));
    await createMindWeaveClient({ url, fetch: anonymous.fetch }).request(MeDocument);
    expect(anonymous.calls[0]!.headers['authorization']).toBeUndefined();
  });

  it('can send queries as GET, never mutations', async () => {
    const { fetch, calls } = fakeFetch(
      json({ data: { mcpServers: { totalCount: 0 } } }),
      json({ data: { recordUsage: { accepted: 1, duplicates: 0 } } }),
    );
    const client = createMindWeaveClient({ url, fetch, getForQueries: true });
    await client.request(McpServersDocument, { search: 'db', first: 5 });
    await client.request(RecordUsageDocument, { input: { model: 'm', inputTokens: 1, outputTokens: 1, latencyMs: 1 } });
    const get = new URL(calls[0]!.url);
    expect(calls[0]!.method).toBe('GET');
    expect(get.searchParams.get('operationName')).toBe('McpServers');
    expect(JSON.parse(get.searchParams.get('variables')!)).toEqual({ search: 'db', first: 5 });
    expect(JSON.parse(get.searchParams.get('extensions')!).persistedQuery.version).toBe(1);
    expect(get.searchParams.has('query')).toBe(false);
    expect(calls[1]!.method).toBe('POST');
  });

  it('register the document once when the router does not know its hash (APQ)', async () => {
    const { fetch, calls } = fakeFetch(
      json({ errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] }),
      json({ data: me }),
    );
    expect(await createMindWeaveClient({ url, fetch }).request(MeDocument)).toEqual(me);
    expect(calls[0]!.body!['query']).toBeUndefined();
    expect(calls[1]!.body!['query']).toMatch(/^query Me/);
    expect(calls[1]!.body!['extensions']).toEqual(calls[0]!.body!['extensions']);
  });

  it('refuse subscriptions, which go through subscribe()', async () => {
    const { fetch } = fakeFetch();
    await expect(createMindWeaveClient({ url, fetch }).request(UsageUpdatedDocument, { organizationId: 'o' })).rejects.toThrow(
      /subscribe\(\)/,
    );
  });
});

describe('retries', () => {
  it('retry network errors with growing jittered delays, then succeed', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { fetch, calls } = fakeFetch(networkError(), networkError(), json({ data: me }));
    const pending = createMindWeaveClient({ url, fetch, retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 5_000 } }).request(MeDocument);
    await vi.advanceTimersByTimeAsync(98);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // the first wait: 99 ms, just below 100
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(198);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // the second: 199 ms, just below 200
    expect(calls).toHaveLength(3);
    expect(await pending).toEqual(me);
    vi.mocked(Math.random).mockRestore();
  });

  it('give up after `attempts` tries with the last network error', async () => {
    const { fetch, calls } = fakeFetch(networkError(), networkError(), networkError());
    await expect(createMindWeaveClient({ url, fetch, retry: { ...fast, attempts: 3 } }).request(MeDocument)).rejects.toThrow(
      'fetch failed',
    );
    expect(calls).toHaveLength(3);
  });

  it('wait as long as Retry-After says on 429', async () => {
    vi.useFakeTimers();
    const { fetch, calls } = fakeFetch(rateLimited('2'), json({ data: me }));
    const pending = createMindWeaveClient({ url, fetch, retry: fast }).request(MeDocument);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(await pending).toEqual(me);
  });

  it('retry a 429 without Retry-After, and a RATE_LIMITED error whatever its status, with backoff', async () => {
    const { fetch, calls } = fakeFetch(
      new Response('slow down', { status: 429 }),
      json({ errors: [{ message: 'budget', extensions: { code: 'RATE_LIMITED' } }] }, 200),
      json({ data: me }),
    );
    expect(await createMindWeaveClient({ url, fetch, retry: fast }).request(MeDocument)).toEqual(me);
    expect(calls).toHaveLength(3);
  });

  it('throw RATE_LIMITED at once when Retry-After is longer than maxDelayMs', async () => {
    const { fetch, calls } = fakeFetch(rateLimited('900'));
    const error = await createMindWeaveClient({ url, fetch, retry: fast })
      .request(MeDocument)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MindWeaveError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, extensions: { retryAfter: 900 } });
    expect(calls).toHaveLength(1);
  });

  it('never retry other GraphQL errors, and surface them typed', async () => {
    const { fetch, calls } = fakeFetch(
      json(
        {
          data: { organization: null },
          errors: [{ message: 'Organization not found', path: ['organization'], extensions: { code: 'NOT_FOUND' } }],
        },
        200,
        { 'x-request-id': 'req-7' },
      ),
    );
    const error = await createMindWeaveClient({ url, fetch, retry: fast })
      .request(MeDocument)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      path: ['organization'],
      status: 200,
      requestId: 'req-7',
      data: { organization: null },
    });
    expect(calls).toHaveLength(1);

    const refused = fakeFetch(
      json(
        {
          errors: [
            {
              message: 'Only the operations of the trusted documents manifest are allowed',
              extensions: { code: 'PERSISTED_QUERY_NOT_ALLOWED' },
            },
          ],
        },
        400,
      ),
    );
    await expect(createMindWeaveClient({ url, fetch: refused.fetch, retry: fast }).request(MeDocument)).rejects.toMatchObject({
      code: 'PERSISTED_QUERY_NOT_ALLOWED',
      status: 400,
    });
    expect(refused.calls).toHaveLength(1);
  });

  it('retry gateway failures without a GraphQL body, then report their status', async () => {
    const { fetch, calls } = fakeFetch(new Response('<html>bad gateway</html>', { status: 502 }), new Response('', { status: 503 }));
    await expect(createMindWeaveClient({ url, fetch, retry: { ...fast, attempts: 2 } }).request(MeDocument)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      status: 503,
    });
    expect(calls).toHaveLength(2);
  });

  it('never send a mutation that is not idempotent again when it may have been carried out; only when it surely was not', async () => {
    const input = { projectId: 'p1', name: 'ci', scopes: ['usage:write'] };
    const created = () => json({ data: { createApiKey: { key: 'mw_sk_1', apiKey: { id: 'k1' } } } });
    // The connection lost after sending, a proxy's bare 502, 503 and 504, the router's outcome unknown: thrown at once.
    for (const failure of [
      networkError(),
      new Response('<html>bad gateway</html>', { status: 502 }),
      new Response('', { status: 503 }),
      new Response('', { status: 504 }),
      outcomeUnknown(),
    ]) {
      const { fetch, calls } = fakeFetch(failure, created());
      await expect(createMindWeaveClient({ url, fetch, retry: fast }).request(CreateApiKeyDocument, { input })).rejects.toBeDefined();
      expect(calls).toHaveLength(1);
    }
    await expect(
      createMindWeaveClient({ url, fetch: fakeFetch(outcomeUnknown()).fetch, retry: fast }).request(CreateApiKeyDocument, { input }),
    ).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR', status: 502, extensions: { outcome: 'unknown' } });
    // Refused before sending, RATE_LIMITED, UNAVAILABLE: nothing was carried out, so it goes again.
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const unavailable = json({ errors: [{ message: 'retry shortly', extensions: { code: 'UNAVAILABLE', retryAfter: 0 } }] }, 503);
    for (const failure of [refused, rateLimited('0'), unavailable]) {
      const { fetch, calls } = fakeFetch(failure, created());
      expect(await createMindWeaveClient({ url, fetch, retry: fast }).request(CreateApiKeyDocument, { input })).toMatchObject({
        createApiKey: { key: 'mw_sk_1' },
      });
      expect(calls).toHaveLength(2);
    }
    // A mutation the caller names as idempotent goes again after a lost connection.
    const { fetch, calls } = fakeFetch(networkError(), created());
    const client = createMindWeaveClient({ url, fetch, retry: fast, idempotentMutations: ['CreateApiKey'] });
    expect(await client.request(CreateApiKeyDocument, { input })).toMatchObject({ createApiKey: { key: 'mw_sk_1' } });
    expect(calls).toHaveLength(2);
  });

  it('send usage again after a lost connection only when its idempotency keys make it count once', async () => {
    const recorded = () => json({ data: { recordUsage: { accepted: 1, duplicates: 0 } } });
    const event = { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 2, latencyMs: 3 };
    const keyed = fakeFetch(networkError(), recorded());
    const client = createMindWeaveClient({ url, fetch: keyed.fetch, retry: fast });
    expect(await client.request(RecordUsageDocument, { input: { ...event, idempotencyKey: 'call-43' } })).toEqual({
      recordUsage: { accepted: 1, duplicates: 0 },
    });
    expect(keyed.calls).toHaveLength(2);
    // The router's word that the outcome is unknown: the same.
    const lost = fakeFetch(outcomeUnknown(), recorded());
    expect(
      await createMindWeaveClient({ url, fetch: lost.fetch, retry: fast }).request(RecordUsageDocument, {
        input: { ...event, idempotencyKey: 'call-44' },
      }),
    ).toEqual({ recordUsage: { accepted: 1, duplicates: 0 } });
    expect(lost.calls).toHaveLength(2);
    // Without a key a repeat would count the event twice.
    const unkeyed = fakeFetch(networkError(), recorded());
    await expect(
      createMindWeaveClient({ url, fetch: unkeyed.fetch, retry: fast }).request(RecordUsageDocument, { input: event }),
    ).rejects.toThrow('fetch failed');
    expect(unkeyed.calls).toHaveLength(1);
  });

  it('retry UNAVAILABLE after its Retry-After with the same variables, so idempotency keys make it count once', async () => {
    vi.useFakeTimers();
    const unavailable = json(
      {
        data: null,
        errors: [{ message: 'The event log cannot take usage right now', extensions: { code: 'UNAVAILABLE', retryAfter: 2 } }],
      },
      503,
      { 'retry-after': '2' },
    );
    const { fetch, calls } = fakeFetch(unavailable, json({ data: { recordUsage: { accepted: 0, duplicates: 1 } } }));
    const input = { model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 2, latencyMs: 3, idempotencyKey: 'call-42' };
    const result = createMindWeaveClient({ url, fetch, retry: fast }).request(RecordUsageDocument, { input });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toEqual({ recordUsage: { accepted: 0, duplicates: 1 } });
    expect(calls.map((call) => call.body!['variables'])).toEqual([{ input }, { input }]);
  });
});
