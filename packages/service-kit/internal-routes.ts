import { z } from 'zod';
import { postAsService } from './identity.ts';

/**
 * The contract of one internal route (`/internal/...`): its path, the body it takes and the body it
 * answers with (200). The service that owns the data declares it (`<subgraph>/internal-routes.ts`);
 * its route (subgraph-kit's serviceRoute) parses requests with it, and every caller sends bodies
 * typed by it and parses the answers with it (callInternalRoute).
 */
export interface InternalRoute<Request extends z.ZodType = z.ZodType, Response extends z.ZodType = z.ZodType> {
  path: string;
  request: Request;
  response: Response;
}

export const internalRoute = <Request extends z.ZodType, Response extends z.ZodType>(
  path: string,
  request: Request,
  response: Response,
): InternalRoute<Request, Response> => ({
  path,
  request,
  response,
});

/** What a caller sends, and what the route's handler receives. */
export type RequestOf<R extends InternalRoute> = z.input<R['request']>;
export type ParsedRequestOf<R extends InternalRoute> = z.output<R['request']>;
/** What the handler answers, and what a caller receives. */
export type AnswerOf<R extends InternalRoute> = z.input<R['response']>;
export type ResponseOf<R extends InternalRoute> = z.output<R['response']>;

/** A route answered another status than 200 (`status`), or a body outside its contract. */
export class InternalRouteError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
    message = `${path} answered ${status}`,
  ) {
    super(message);
    this.name = 'InternalRouteError';
  }
}

export interface InternalCallOptions {
  baseUrl: string | URL;
  signingSecret: string;
  /** Who calls, as the route sees it (`router`, `workers`, a subgraph's name). */
  service: string;
  requestId: string;
  timeoutMs: number;
}

/**
 * Posts `body` to the route, signed as `options.service`, and parses the answer with the route's
 * response schema. Throws InternalRouteError on any status but 200 or a body outside the contract,
 * and fetch's own error when the service cannot be reached.
 */
export async function callInternalRoute<R extends InternalRoute>(
  route: R,
  options: InternalCallOptions,
  body: RequestOf<R>,
): Promise<ResponseOf<R>> {
  const { baseUrl, signingSecret, service, requestId, timeoutMs } = options;
  const response = await postAsService(new URL(route.path, baseUrl), { signingSecret, service, requestId, body, timeoutMs });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new InternalRouteError(route.path, response.status);
  }
  const parsed = route.response.safeParse(await response.json());
  if (!parsed.success)
    throw new InternalRouteError(
      route.path,
      response.status,
      `${route.path} answered a body outside its contract: ${z.prettifyError(parsed.error)}`,
    );
  return parsed.data as ResponseOf<R>;
}

/** For routes whose 404 means "no such thing": null instead of the error. */
export function nullOn404(error: unknown): null {
  if (error instanceof InternalRouteError && error.status === 404) return null;
  throw error;
}
