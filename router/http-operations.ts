import type { IncomingMessage } from 'node:http';
import type { HTTPGraphQLRequest } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { OperationRequest } from './edge.ts';
import type { RouterEnv } from './env.ts';

/** The operations a request carries, whether it is a batch, and its body as Apollo Server is to read it. */
export interface SentOperations {
  requests: OperationRequest[];
  batch: boolean;
  raw: unknown;
}

const requestTooLarge = (limit: number) => new MindweaveError(ErrorCode.BAD_USER_INPUT, `Request body exceeds ${limit} bytes`);

/** The body, refused past `limit` bytes: by its Content-Length at once, else as soon as it grows past it. */
export async function readBody(req: AsyncIterable<Buffer> & Pick<IncomingMessage, 'headers'>, limit: number): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > limit) throw requestTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw requestTooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Request body is not valid JSON');
  }
}

function jsonParam(value: string | null, name: string): Record<string, unknown> | undefined {
  if (!value) return undefined;
  const parsed = parseJson(value);
  if (typeof parsed !== 'object' || parsed === null)
    throw new MindweaveError(ErrorCode.BAD_USER_INPUT, `The ${name} parameter must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The operations of a request, from the JSON body (POST) or the query string (GET). */
export async function operationsOf(
  req: AsyncIterable<Buffer> & Pick<IncomingMessage, 'headers' | 'method'>,
  url: URL,
  env: Pick<RouterEnv, 'MAX_REQUEST_BYTES' | 'MAX_BATCH_SIZE'>,
): Promise<SentOperations> {
  if (req.method === 'GET') {
    const params = url.searchParams;
    const request: OperationRequest = {
      query: params.get('query') ?? undefined,
      operationName: params.get('operationName') ?? undefined,
      variables: jsonParam(params.get('variables'), 'variables'),
      extensions: jsonParam(params.get('extensions'), 'extensions'),
    };
    return { requests: [request], batch: false, raw: undefined };
  }
  const text = await readBody(req, env.MAX_REQUEST_BYTES);
  if (!(req.headers['content-type'] ?? '').includes('json')) return { requests: [], batch: false, raw: text };
  const body = parseJson(text);
  if (Array.isArray(body)) {
    if (env.MAX_BATCH_SIZE === 0) throw new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Batched requests are not enabled');
    if (body.length > env.MAX_BATCH_SIZE)
      throw new MindweaveError(ErrorCode.BAD_USER_INPUT, `A batch may hold at most ${env.MAX_BATCH_SIZE} operations`);
    return { requests: body as OperationRequest[], batch: true, raw: body };
  }
  return { requests: typeof body === 'object' && body !== null ? [body as OperationRequest] : [], batch: false, raw: body };
}

/**
 * The request Apollo Server runs: as sent, with the operations the edge admitted in place of the
 * sent ones (persisted queries resolved, fields the caller may not see removed).
 */
export function admittedRequestOf(
  req: Pick<IncomingMessage, 'headers'>,
  method: 'GET' | 'POST',
  url: URL,
  sent: SentOperations,
  admitted: OperationRequest[],
): HTTPGraphQLRequest {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  let search = url.search;
  let body: unknown = sent.raw;
  if (method === 'GET') {
    const params = new URLSearchParams(url.searchParams);
    const first = admitted[0];
    if (first?.query !== undefined) params.set('query', first.query);
    if (first?.extensions && Object.keys(first.extensions).length) params.set('extensions', JSON.stringify(first.extensions));
    else params.delete('extensions');
    search = `?${params.toString()}`;
  } else if (sent.requests.length) {
    body = sent.batch ? admitted : admitted[0];
  }
  return { method, headers, search, body };
}
