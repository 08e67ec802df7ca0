import { createHmac, timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, errorBody, MindweaveError } from '@mindweave/errors';
import { sendJson } from '@mindweave/service-kit';
import { isUuid, type ExtraRoute } from '@mindweave/subgraph-kit';
import type { Storage } from './storage.ts';

/** The path the router serves downloads on (and proxies here). */
export const downloadPath = /^\/exports\/([^/]+)\/download$/;

const signatureOf = (secret: string, exportId: string, expires: number) =>
  createHmac('sha256', secret).update(`mindweave-export-download.v1.${exportId}.${expires}`).digest('hex');

/** `<base>/exports/<id>/download?expires=<unix seconds>&signature=<hex HMAC-SHA256 over id and expiry>` */
export function signDownloadUrl(options: { baseUrl: string; secret: string; exportId: string; ttlSeconds: number; now?: number }): {
  url: string;
  expiresAt: Date;
} {
  const expires = Math.floor((options.now ?? Date.now()) / 1000) + options.ttlSeconds;
  const url = new URL(`/exports/${options.exportId}/download`, options.baseUrl);
  url.searchParams.set('expires', String(expires));
  url.searchParams.set('signature', signatureOf(options.secret, options.exportId, expires));
  return { url: url.toString(), expiresAt: new Date(expires * 1000) };
}

export function verifyDownload(secret: string, exportId: string, params: URLSearchParams, now = Date.now()): 'ok' | 'expired' | 'invalid' {
  const expires = params.get('expires') ?? '';
  const signature = params.get('signature') ?? '';
  if (!/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(signature)) return 'invalid';
  const expected = Buffer.from(signatureOf(secret, exportId, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'invalid';
  return Number(expires) * 1000 <= now ? 'expired' : 'ok';
}

type Downloadable = { status: string; fileKey: string | null; format: 'CSV' | 'JSON' };

const contentTypes = { CSV: 'text/csv; charset=utf-8', JSON: 'application/json; charset=utf-8' } as const;

/**
 * GET /exports/<id>/download: the signature is the authorization (anyone holding the URL may
 * download until it expires); a bad or expired one gets 403 FORBIDDEN. The file is streamed.
 */
export function createDownloadRoute(options: {
  secret: string;
  storage: Storage;
  find: (exportId: string) => Promise<Downloadable | null>;
}): ExtraRoute {
  return async (req, res, url) => {
    const match = downloadPath.exec(url.pathname);
    const exportId = match?.[1];
    if (!exportId || !isUuid(exportId) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const verdict = verifyDownload(options.secret, exportId, url.searchParams);
    if (verdict !== 'ok') {
      const message = verdict === 'expired' ? 'This download link has expired: ask exportJob for a new one' : 'Invalid download signature';
      sendJson(res, 403, errorBody(new MindweaveError(ErrorCode.FORBIDDEN, message)));
      return true;
    }
    const job = await options.find(exportId);
    const file = job?.status === 'SUCCEEDED' && job.fileKey ? await options.storage.open(job.fileKey) : null;
    if (!job || !file) {
      sendJson(res, 404, errorBody(new MindweaveError(ErrorCode.NOT_FOUND, 'Export file not found')));
      return true;
    }
    res.writeHead(200, {
      'content-type': contentTypes[job.format],
      'content-length': file.size,
      'content-disposition': `attachment; filename="mindweave-export-${exportId}.${job.format.toLowerCase()}"`,
      'cache-control': 'private, no-store',
    });
    if (req.method === 'HEAD') {
      file.stream.destroy();
      res.end();
      return true;
    }
    await pipeline(file.stream, res);
    return true;
  };
}
