import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { Logger } from '@mindweave/service-kit';
import type { OperationRequest } from './edge.ts';

export type PersistedQueriesMode = 'apq' | 'safelist';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const apqTtlSeconds = 30 * 86_400;

/** A manifest of trusted documents, `{ "<sha256>": "<document>" }` (GraphQL Code Generator's persisted documents). */
export function loadManifest(path: string | undefined, log: Logger): Map<string, string> {
  if (!path) return new Map();
  try {
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    for (const [hash, document] of Object.entries(manifest)) {
      if (sha256(document) !== hash) throw new Error(`manifest entry ${hash} does not match its document`);
    }
    log.info({ path, operations: Object.keys(manifest).length }, 'trusted documents loaded');
    return new Map(Object.entries(manifest));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
}

/**
 * Automatic persisted queries (Apollo's protocol, version 1) stored in Redis so every router
 * instance shares them, and trusted documents from the manifest, served by hash with no
 * registration. In safelist mode only the manifest's operations run. Resolves each request to
 * the document text the edge analyses; the persistedQuery extension never reaches Apollo Server.
 */
export function createPersistedQueries(options: { redis: Redis; mode: PersistedQueriesMode; manifest: Map<string, string>; log: Logger }) {
  const { redis, mode, manifest, log } = options;

  async function resolve(request: OperationRequest): Promise<OperationRequest> {
    const persisted = request.extensions?.['persistedQuery'] as { version?: unknown; sha256Hash?: unknown } | undefined;
    const hash = typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash.toLowerCase() : undefined;
    if (persisted && (persisted.version !== 1 || !hash))
      throw new MindweaveError(ErrorCode.BAD_USER_INPUT, 'Unsupported persistedQuery extension: version 1 with a sha256Hash is expected');
    const { persistedQuery: _persisted, ...extensions } = request.extensions ?? {};
    const withQuery = (query: string): OperationRequest => ({ ...request, query, extensions });

    if (!hash) {
      if (mode === 'safelist' && !(request.query && manifest.has(sha256(request.query)))) {
        throw new MindweaveError(
          ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
          'Only the operations of the trusted documents manifest are allowed',
        );
      }
      return request;
    }
    if (typeof request.query === 'string') {
      if (sha256(request.query) !== hash) throw new MindweaveError(ErrorCode.BAD_USER_INPUT, 'The sha256Hash does not match the query');
      if (mode === 'safelist' && !manifest.has(hash))
        throw new MindweaveError(
          ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
          'Only the operations of the trusted documents manifest are allowed',
        );
      if (mode === 'apq' && !manifest.has(hash)) {
        await redis
          .set(`apq:${hash}`, request.query, 'EX', apqTtlSeconds)
          .catch((error: unknown) => log.warn({ err: error }, 'could not register a persisted query'));
      }
      return withQuery(request.query);
    }
    const trusted = manifest.get(hash);
    if (trusted) return withQuery(trusted);
    if (mode === 'safelist')
      throw new MindweaveError(ErrorCode.PERSISTED_QUERY_NOT_ALLOWED, 'Only the operations of the trusted documents manifest are allowed');
    const registered = redis.status === 'ready' ? await redis.get(`apq:${hash}`).catch(() => null) : null;
    if (registered === null) throw new MindweaveError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
    return withQuery(registered);
  }

  return { resolve, isPersisted: (request: OperationRequest) => request.extensions?.['persistedQuery'] !== undefined };
}

export type PersistedQueries = ReturnType<typeof createPersistedQueries>;
