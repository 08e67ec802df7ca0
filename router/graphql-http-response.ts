import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HTTPGraphQLResponse } from '@apollo/server';
import { ErrorCode, errorBody, type MindweaveError } from '@mindweave/errors';
import { sendJson } from '@mindweave/service-kit';

export const wantsGraphQLResponse = (req: Pick<IncomingMessage, 'headers'>) =>
  (req.headers.accept ?? '').includes('application/graphql-response+json');

/** An error answered before Apollo Server runs, in the media type the client accepts. */
export function sendError(
  req: Pick<IncomingMessage, 'headers'>,
  res: ServerResponse,
  status: number,
  error: MindweaveError,
  headers: Record<string, string> = {},
) {
  const type = wantsGraphQLResponse(req) ? 'application/graphql-response+json; charset=utf-8' : 'application/json; charset=utf-8';
  sendJson(res, status, errorBody(error), { ...headers, 'content-type': type });
}

const documentErrorCodes = new Set<string>([ErrorCode.GRAPHQL_PARSE_FAILED, ErrorCode.GRAPHQL_VALIDATION_FAILED]);
const isDocumentErrorEntry = (e: { message?: string; extensions?: { code?: string } }) =>
  documentErrorCodes.has(e.extensions?.code ?? '') ||
  (e.extensions?.code === ErrorCode.BAD_USER_INPUT && !!e.message?.startsWith('Variable "$'));

/**
 * A parse, validation or variable error in a well-formed request. GraphQL over HTTP asks for 200
 * for these under application/json (legacy clients read the body only then), 4xx under
 * application/graphql-response+json.
 */
export function isDocumentError(response: HTTPGraphQLResponse): boolean {
  if (response.body.kind !== 'complete') return false;
  try {
    const body = JSON.parse(response.body.string) as { data?: unknown; errors?: { message?: string; extensions?: { code?: string } }[] };
    return body.data === undefined && !!body.errors?.length && body.errors.every(isDocumentErrorEntry);
  } catch {
    return false;
  }
}

export async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse) {
  res.statusCode = response.status ?? 200;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (response.body.kind === 'complete') {
    // Encoded once, which also gives the length: ended with the string, it is measured, then encoded.
    const body = Buffer.from(response.body.string);
    res.setHeader('content-length', body.length);
    res.end(body);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}
