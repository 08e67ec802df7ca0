import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import serveStatic from 'serve-static';
import type { Logger } from '@mindweave/service-kit';

export const dashboardPath = '/dashboard';

/** The app talks to this router only; styles are its own stylesheets (React and uPlot set styles through the DOM). */
export const dashboardCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Vite names every file under assets/ after a hash of its content, so those never change and may be
 * cached for good; the pages that name them are revalidated (ETag) on every load.
 */
export function cacheControlOf(relativePath: string): string {
  if (relativePath.startsWith('/assets/') || relativePath.startsWith('assets/')) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

/**
 * The dashboard (apps/dashboard, built into `dir`) at /dashboard/: its files as they are on disk, with
 * their content types, ETags and the caching above; any other path without a file extension gets
 * index.html, so that the app's own routes (/dashboard/keys...) load it. serve-static (send) refuses
 * paths that climb out of `dir` and ignores dot-files. The IDE's page (ide.html) is left to router/ide.ts.
 */
export function createDashboard(options: { dir: string; log: Logger }) {
  const { dir, log } = options;
  const serve = serveStatic(dir, {
    index: ['index.html'],
    redirect: false,
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders(res, path) {
      res.setHeader('cache-control', cacheControlOf(path.slice(dir.length).replaceAll('\\', '/')));
      res.setHeader('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) {
        res.setHeader('content-security-policy', dashboardCsp);
        res.setHeader('referrer-policy', 'no-referrer');
      }
    },
  });
  let warned = false;

  /** Hands the request to serve-static with `path` as its URL; resolves false when there is no such file. */
  function serveFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const original = req.url;
    req.url = path;
    return new Promise<boolean>((resolve, reject) => {
      res.once('finish', () => resolve(true));
      res.once('close', () => resolve(true));
      serve(req, res, (error?: unknown) => {
        req.url = original;
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else resolve(false);
      });
    });
  }

  /** Answers /dashboard and everything under it; false for any other path. */
  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname !== dashboardPath && !url.pathname.startsWith(`${dashboardPath}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Use GET\n');
      return true;
    }
    if (url.pathname === dashboardPath) {
      res.writeHead(308, { location: `${dashboardPath}/${url.search}` }).end();
      return true;
    }
    if (!existsSync(join(dir, 'index.html'))) {
      if (!warned) log.warn({ dir }, 'the dashboard is not built: pnpm --filter @mindweave/dashboard build');
      warned = true;
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        .end('The dashboard is not built yet: run `pnpm --filter @mindweave/dashboard build` (the start and test commands do).\n');
      return true;
    }
    // The raw path (not url.pathname, which has already resolved dot segments), so that send judges it.
    const raw = (req.url ?? '/').split('?')[0]!;
    const path = raw.slice(dashboardPath.length) || '/';
    if (path === '/ide.html') return notFound(res);
    if (await serveFile(req, res, path)) return true;
    if (extname(path) === '' && (await serveFile(req, res, '/index.html'))) return true;
    return notFound(res);
  }

  return { handle };
}

function notFound(res: ServerResponse): true {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('Not found\n');
  return true;
}
