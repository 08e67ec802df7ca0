import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { admittedRequestOf, operationsOf, readBody } from './http-operations.ts';

const env = { MAX_REQUEST_BYTES: 64, MAX_BATCH_SIZE: 2 };

/** A request with this body, sent in chunks of 10 bytes. */
function requestOf(method: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const chunks = Array.from({ length: Math.ceil(body.length / 10) }, (_, i) => Buffer.from(body.slice(i * 10, i * 10 + 10)));
  return Object.assign(Readable.from(chunks), { method, headers });
}
const url = (search = '') => new URL(`http://router/graphql${search}`);

describe('readBody', () => {
  it('reads the whole body', async () => {
    expect(await readBody(requestOf('POST', '{"query":"{ a }"}'), 64)).toBe('{"query":"{ a }"}');
  });

  it('refuses a body past the limit, by its Content-Length or as it arrives', async () => {
    await expect(readBody(requestOf('POST', '{}', { 'content-length': '65' }), 64)).rejects.toThrow('Request body exceeds 64 bytes');
    await expect(readBody(requestOf('POST', 'x'.repeat(70), {}), 64)).rejects.toThrow('Request body exceeds 64 bytes');
  });
});

describe('operationsOf', () => {
  it('takes a GET request from the query string, with JSON variables and extensions', async () => {
    const search = `?query=${encodeURIComponent('{ a }')}&operationName=A&variables=${encodeURIComponent('{"x":1}')}`;
    expect(await operationsOf(requestOf('GET', ''), url(search), env)).toEqual({
      requests: [{ query: '{ a }', operationName: 'A', variables: { x: 1 }, extensions: undefined }],
      batch: false,
      raw: undefined,
    });
  });

  it('refuses GET parameters that are not JSON objects', async () => {
    await expect(operationsOf(requestOf('GET', ''), url('?variables=nope'), env)).rejects.toThrow('Request body is not valid JSON');
    await expect(operationsOf(requestOf('GET', ''), url('?extensions=3'), env)).rejects.toThrow(
      'The extensions parameter must be a JSON object',
    );
  });

  it('takes a POST request from its JSON body, and leaves a body of another type to Apollo Server', async () => {
    expect(await operationsOf(requestOf('POST', '{"query":"{ a }"}'), url(), env)).toEqual({
      requests: [{ query: '{ a }' }],
      batch: false,
      raw: { query: '{ a }' },
    });
    expect(await operationsOf(requestOf('POST', 'query', { 'content-type': 'text/plain' }), url(), env)).toEqual({
      requests: [],
      batch: false,
      raw: 'query',
    });
    expect((await operationsOf(requestOf('POST', '"text"'), url(), env)).requests).toEqual([]);
    await expect(operationsOf(requestOf('POST', '{'), url(), env)).rejects.toThrow('Request body is not valid JSON');
  });

  it('takes batches up to MAX_BATCH_SIZE, and none when it is 0', async () => {
    const two = '[{"query":"{ a }"},{"query":"{ b }"}]';
    expect(await operationsOf(requestOf('POST', two), url(), env)).toMatchObject({
      batch: true,
      requests: [{ query: '{ a }' }, { query: '{ b }' }],
    });
    await expect(operationsOf(requestOf('POST', '[{},{},{}]'), url(), env)).rejects.toThrow('A batch may hold at most 2 operations');
    await expect(operationsOf(requestOf('POST', two), url(), { ...env, MAX_BATCH_SIZE: 0 })).rejects.toThrow(
      'Batched requests are not enabled',
    );
  });
});

describe('admittedRequestOf', () => {
  const headers = { 'content-type': 'application/json', 'x-multi': ['a', 'b'] as unknown as string };

  it('puts the admitted query and extensions in a GET request, dropping empty extensions', () => {
    const sent = { requests: [{ extensions: { persistedQuery: { sha256Hash: 'h' } } }], batch: false, raw: undefined };
    const request = admittedRequestOf({ headers }, 'GET', url('?extensions=x&operationName=A'), sent, [{ query: '{ a }', extensions: {} }]);
    expect(request.method).toBe('GET');
    expect(new URLSearchParams(request.search).get('query')).toBe('{ a }');
    expect(new URLSearchParams(request.search).has('extensions')).toBe(false);
    expect(new URLSearchParams(request.search).get('operationName')).toBe('A');
    expect(request.headers.get('x-multi')).toBe('a, b');
    const kept = admittedRequestOf({ headers }, 'GET', url(), sent, [{ query: '{ a }', extensions: { includeCost: true } }]);
    expect(new URLSearchParams(kept.search).get('extensions')).toBe('{"includeCost":true}');
  });

  it('sends the admitted operation, or batch, as the POST body, and a body without operations as it came', () => {
    const admitted = [{ query: '{ a }' }, { query: '{ b }' }];
    expect(admittedRequestOf({ headers }, 'POST', url(), { requests: [{}], batch: false, raw: {} }, admitted).body).toBe(admitted[0]);
    expect(admittedRequestOf({ headers }, 'POST', url(), { requests: [{}, {}], batch: true, raw: [] }, admitted).body).toBe(admitted);
    expect(admittedRequestOf({ headers }, 'POST', url('?a=1'), { requests: [], batch: false, raw: 'text' }, []).body).toBe('text');
  });
});
