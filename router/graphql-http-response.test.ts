import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import { isDocumentError, sendError, writeResponse } from './graphql-http-response.ts';

const complete = (body: unknown, status = 400): HTTPGraphQLResponse => ({
  status,
  headers: new HeaderMap(),
  body: { kind: 'complete', string: JSON.stringify(body) },
});

describe('isDocumentError', () => {
  it('is an answer without data whose every error is about the document or its variables', () => {
    expect(isDocumentError(complete({ errors: [{ message: 'x', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] }))).toBe(true);
    expect(
      isDocumentError(
        complete({
          errors: [
            { message: 'x', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
            { message: 'Variable "$n" got invalid value', extensions: { code: 'BAD_USER_INPUT' } },
          ],
        }),
      ),
    ).toBe(true);
  });

  it('is not one with data, with other errors, without errors, or streamed', () => {
    expect(isDocumentError(complete({ data: null, errors: [{ message: 'x', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] }))).toBe(false);
    expect(isDocumentError(complete({ errors: [{ message: 'Bad id', extensions: { code: 'BAD_USER_INPUT' } }] }))).toBe(false);
    expect(isDocumentError(complete({ errors: [] }))).toBe(false);
    expect(isDocumentError({ status: 400, headers: new HeaderMap(), body: { kind: 'complete', string: 'not json' } })).toBe(false);
    const chunked: HTTPGraphQLResponse = { headers: new HeaderMap(), body: { kind: 'chunked', asyncIterator: (async function* () {})() } };
    expect(isDocumentError(chunked)).toBe(false);
  });
});

// A real server, so that the responses are written as the router writes them.
let handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async () => undefined;
const server = createServer((req, res) => void handler(req, res));
let base = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('writing answers', () => {
  it('writes a complete answer with its status, headers and byte length', async () => {
    handler = async (_req, res) => {
      const headers = new HeaderMap([['x-a', '1']]);
      await writeResponse(res, { status: 201, headers, body: { kind: 'complete', string: '{"data":"é"}' } });
    };
    const answer = await fetch(base);
    expect([answer.status, answer.headers.get('x-a'), answer.headers.get('content-length')]).toEqual([201, '1', '13']);
    expect(await answer.text()).toBe('{"data":"é"}');
  });

  it('writes a chunked answer chunk by chunk', async () => {
    handler = async (_req, res) => {
      const asyncIterator = (async function* () {
        yield 'a';
        yield 'b';
      })();
      await writeResponse(res, { headers: new HeaderMap(), body: { kind: 'chunked', asyncIterator } });
    };
    const answer = await fetch(base);
    expect([answer.status, await answer.text()]).toEqual([200, 'ab']);
  });

  it('sends an error in the media type the client accepts', async () => {
    handler = async (req, res) => sendError(req, res, 429, new MindweaveError(ErrorCode.RATE_LIMITED, 'slow down'), { 'retry-after': '3' });
    const legacy = await fetch(base);
    expect([legacy.status, legacy.headers.get('content-type'), legacy.headers.get('retry-after')]).toEqual([
      429,
      'application/json; charset=utf-8',
      '3',
    ]);
    expect(await legacy.json()).toMatchObject({ errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }] });
    const modern = await fetch(base, { headers: { accept: 'application/graphql-response+json' } });
    expect(modern.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
  });
});
