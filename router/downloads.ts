import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { sendJson, type Logger } from '@mindweave/service-kit';

/** Export downloads: GET /exports/<id>/download?expires=...&signature=... */
export const isExportDownloadPath = (pathname: string) => /^\/exports\/[^/]+\/download$/.test(pathname);

const passedHeaders = ['content-type', 'content-length', 'content-disposition', 'cache-control'];

/**
 * Serves export downloads on the single endpoint by streaming them from the exports subgraph,
 * which checks the URL's signature and expiry (403 FORBIDDEN) and reads the file.
 */
export function createDownloadProxy(options: { exportsUrl: string; timeoutMs: number; log: Logger }) {
  return async function proxyDownload(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
    const target = new URL(url.pathname + url.search, options.exportsUrl);
    try {
      const upstream = await request(target, { method: req.method, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
      res.statusCode = upstream.statusCode;
      for (const name of passedHeaders) {
        const value = upstream.headers[name];
        if (value !== undefined) res.setHeader(name, value);
      }
      await pipeline(upstream.body, res);
    } catch (error) {
      options.log.warn({ err: error }, 'export download failed');
      if (!res.headersSent)
        sendJson(res, 502, { errors: [{ message: 'The exports service did not answer', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    }
  };
}
