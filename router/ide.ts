import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '@mindweave/service-kit';
import { dashboardCsp } from './dashboard.ts';

/** What the IDE's page starts with: the endpoint, and in development the demo tenant's API key. */
export interface IdeConfig {
  endpoint: string;
  demo?: { apiKey: string; organizationId: string };
}

/** The start command's record of the demo tenant (scripts/start.ts). */
const demoFileSchema = z.object({ apiKey: z.string().min(1), organizationId: z.string().min(1) });

// Monaco (GraphiQL's editor) adds <style> elements and runs its language services in workers.
// GraphiQL's stylesheet embeds its fonts as data: URLs.
const ideCsp = dashboardCsp
  .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  .replace("font-src 'self'", "font-src 'self' data:")
  .concat("; worker-src 'self' blob:");

const isLoopback = (address: string | undefined) => {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(plain) === 4 ? plain.startsWith('127.') : plain === '::1';
};

/** A browser opening the endpoint: GET, asking for HTML, without an operation. */
export const isIdeRequest = (req: IncomingMessage, url: URL) =>
  url.pathname === '/graphql' &&
  req.method === 'GET' &&
  !url.searchParams.has('query') &&
  !url.searchParams.has('extensions') &&
  (req.headers.accept ?? '').includes('text/html');

/** The JSON goes inside a <script> element: `<` is escaped so that no value can end it. */
export const embedConfig = (html: string, config: IdeConfig) =>
  html.replace(
    /(<script type="application\/json" id="mw-ide-config">)[^<]*(<\/script>)/,
    (_, open: string, close: string) => `${open}${JSON.stringify(config).replaceAll('<', '\\u003c')}${close}`,
  );

/**
 * GraphiQL (built with the dashboard: apps/dashboard/ide.html) at GET /graphql for browsers, in place
 * of Apollo's landing page, which loads from a CDN. `enabled` is GRAPHQL_IDE (off in production
 * unless set). In development the page comes with the demo tenant's API key from `demoFile`, and
 * only to browsers on this machine, since the key is a real credential.
 */
export function createIde(options: { dir: string; enabled: boolean; demoFile: string | undefined; log: Logger }) {
  const { dir, enabled, demoFile, log } = options;

  async function demoOf(req: IncomingMessage): Promise<IdeConfig['demo']> {
    if (!demoFile || !isLoopback(req.socket.remoteAddress)) return undefined;
    const text = await readFile(demoFile, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const { apiKey, organizationId } = demoFileSchema.parse(JSON.parse(text));
      return { apiKey, organizationId };
    } catch (error) {
      log.warn({ err: error, demoFile }, 'the demo file is not what the start command writes');
      return undefined;
    }
  }

  /** Answers a browser's GET /graphql with the IDE; false for anything else, which the endpoint answers. */
  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!enabled || !isIdeRequest(req, url)) return false;
    const html = await readFile(join(dir, 'ide.html'), 'utf8').catch(() => undefined);
    if (html === undefined) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        .end('The GraphQL IDE is not built yet: run `pnpm --filter @mindweave/dashboard build` (the start and test commands do).\n');
      return true;
    }
    const demo = await demoOf(req);
    const page = embedConfig(html, { endpoint: url.pathname, ...(demo ? { demo } : {}) });
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      // It may carry an API key.
      'cache-control': 'no-store',
      'content-security-policy': ideCsp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept',
    });
    res.end(page);
    return true;
  }

  return { handle };
}
