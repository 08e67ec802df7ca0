import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@mindweave/service-kit';
import { cacheControlOf, createDashboard } from './dashboard.ts';
import { embedConfig, createIde } from './ide.ts';
import { ideEnabled } from './env.ts';

// The router's static routes over a real HTTP server and a build-shaped folder on disk: what a
// browser gets for each path, and what it must never get.

const log = createLogger({ name: 'test', level: 'silent' });
let root: string;
let dir: string;
let demoFile: string;
let server: Server;
let port: number;

/** A raw GET: the path goes out exactly as written (fetch would resolve `..` first). */
function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

type Req = Parameters<ReturnType<typeof createDashboard>['handle']>[0];
type Res = Parameters<ReturnType<typeof createDashboard>['handle']>[1];

const fakeRequest = (remoteAddress: string, url = '/graphql') =>
  ({ method: 'GET', url, headers: { accept: 'text/html' }, socket: { remoteAddress } }) as unknown as Req;

/** Keeps what a handler answered, for the cases a real request cannot produce. */
function recorder() {
  const answer: { status?: number; body?: string; res: Res } = {
    res: {
      writeHead(status: number) {
        answer.status = status;
        return this;
      },
      end(body: string) {
        answer.body = body;
      },
    } as unknown as Res,
  };
  return answer;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mw-dashboard-'));
  dir = join(root, 'dist');
  await mkdir(join(dir, 'assets'), { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  await writeFile(
    join(dir, 'ide.html'),
    '<!doctype html><script type="application/json" id="mw-ide-config">{}</script><div id="ide"></div>',
  );
  await writeFile(join(dir, 'assets', 'app-Ab12.js'), 'console.log(1)');
  await writeFile(join(dir, 'assets', 'style-Cd34.css'), 'body{}');
  await writeFile(join(dir, '.stamp'), 'build stamp');
  await writeFile(join(root, 'secret.txt'), 'outside the build');
  demoFile = join(root, 'demo.json');
  await writeFile(
    demoFile,
    JSON.stringify({ apiKey: 'mw_sk_demo</script><script>alert(1)</script>', organizationId: 'org-1', email: 'demo@x' }),
  );

  const dashboard = createDashboard({ dir, log });
  const ide = createIde({ dir, enabled: true, demoFile, log });
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://router');
    if ((await dashboard.handle(req, res, url)) || (await ide.handle(req, res, url))) return;
    res.writeHead(404).end('endpoint');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

describe('the dashboard at /dashboard', () => {
  it('serves the app with its content type, a CSP, and revalidation', async () => {
    const page = await get('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>app</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['etag']).toBeTruthy();
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await get('/dashboard/', { 'if-none-match': page.headers['etag']! })).status).toBe(304);
  });

  it('caches the hashed assets for good, with their content types', async () => {
    const script = await get('/dashboard/assets/app-Ab12.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get('/dashboard/assets/style-Cd34.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get('/dashboard/assets/app-Ab12.js', {}, 'HEAD')).status).toBe(200);
  });

  it("answers the app's own routes with index.html, and a missing file with 404", async () => {
    for (const path of ['/dashboard/keys', '/dashboard/webhooks?x=1', '/dashboard/a/b']) {
      const page = await get(path);
      expect(page.status, path).toBe(200);
      expect(page.body).toContain('<title>app</title>');
    }
    expect((await get('/dashboard/assets/missing-Zz99.js')).status).toBe(404);
    expect((await get('/dashboard/favicon.ico')).status).toBe(404);
  });

  it('never serves what is outside the build, dot-files, or the IDE page', async () => {
    for (const path of [
      '/dashboard/..%2fsecret.txt',
      '/dashboard/..%2f..%2fdist%2f..%2fsecret.txt',
      '/dashboard/%2e%2e/secret.txt',
      '/dashboard/assets/..%5c..%5csecret.txt',
      '/dashboard/.stamp',
      '/dashboard/ide.html',
      '/dashboard/%00',
    ]) {
      const answer = await get(path);
      expect(answer.body, path).not.toContain('outside the build');
      expect(answer.body, path).not.toContain('build stamp');
      expect(answer.body, path).not.toContain('mw-ide-config');
    }
  });

  it('redirects /dashboard to /dashboard/ and refuses other methods', async () => {
    const redirect = await get('/dashboard?x=1');
    expect(redirect.status).toBe(308);
    expect(redirect.headers['location']).toBe('/dashboard/?x=1');
    expect((await get('/dashboard/', {}, 'POST')).status).toBe(405);
  });

  it('says how to build the app when there is no build', async () => {
    const empty = createDashboard({ dir: join(root, 'nothing'), log });
    const answer = recorder();
    expect(await empty.handle(fakeRequest('127.0.0.1', '/dashboard/'), answer.res, new URL('http://router/dashboard/'))).toBe(true);
    expect(answer.status).toBe(503);
    expect(answer.body).toContain('pnpm --filter @mindweave/dashboard build');
  });

  it('knows what may be cached', () => {
    expect(cacheControlOf('/assets/x-1.js')).toContain('immutable');
    expect(cacheControlOf('/index.html')).toBe('no-cache');
  });
});

describe('the GraphQL IDE at /graphql', () => {
  it('is the page a browser gets, with the demo key for a browser on this machine, escaped', async () => {
    const page = await get('/graphql', { accept: 'text/html,application/xhtml+xml' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("worker-src 'self' blob:");
    const config = /<script type="application\/json" id="mw-ide-config">([^<]*)<\/script>/.exec(page.body)?.[1];
    expect(JSON.parse(config!)).toEqual({
      endpoint: '/graphql',
      demo: { apiKey: 'mw_sk_demo</script><script>alert(1)</script>', organizationId: 'org-1' },
    });
    expect(page.body).not.toContain('<script>alert(1)');
  });

  it('leaves requests for data, and anything not asking for HTML, to the endpoint', async () => {
    expect((await get(`/graphql?query=${encodeURIComponent('{ __typename }')}`, { accept: 'text/html' })).body).toBe('endpoint');
    expect((await get('/graphql', { accept: 'application/json' })).body).toBe('endpoint');
    expect((await get('/graphql', { accept: 'text/html' }, 'POST')).body).toBe('endpoint');
  });

  it('gives no key to a browser on another machine, nor outside development, and is off when disabled', async () => {
    // A request from another machine cannot be made here: its remote address is set by hand.
    const ide = createIde({ dir, enabled: true, demoFile, log });
    const url = new URL('http://router/graphql');
    const remote = recorder();
    await ide.handle(fakeRequest('10.1.2.3'), remote.res, url);
    expect(remote.body).toContain('id="mw-ide-config">{"endpoint":"/graphql"}<');
    const local = recorder();
    await ide.handle(fakeRequest('::ffff:127.0.0.1'), local.res, url);
    expect(local.body).toContain('mw_sk_demo');

    const outsideDevelopment = recorder();
    await createIde({ dir, enabled: true, demoFile: undefined, log }).handle(fakeRequest('127.0.0.1'), outsideDevelopment.res, url);
    expect(outsideDevelopment.body).toContain('mw-ide-config');
    expect(outsideDevelopment.body).not.toContain('mw_sk_demo');
    expect(await createIde({ dir, enabled: false, demoFile, log }).handle(fakeRequest('127.0.0.1'), recorder().res, url)).toBe(false);
  });

  it('is on outside production, and in production only when GRAPHQL_IDE says so', () => {
    expect(ideEnabled({ NODE_ENV: 'development' })).toBe(true);
    expect(ideEnabled({ NODE_ENV: 'test' })).toBe(true);
    expect(ideEnabled({ NODE_ENV: 'production' })).toBe(false);
    expect(ideEnabled({ NODE_ENV: 'production', GRAPHQL_IDE: 'true' })).toBe(true);
    expect(ideEnabled({ NODE_ENV: 'development', GRAPHQL_IDE: '0' })).toBe(false);
  });

  it('embeds the configuration in the page it is given', () => {
    expect(embedConfig('<script type="application/json" id="mw-ide-config">{}</script>', { endpoint: '/g' })).toBe(
      '<script type="application/json" id="mw-ide-config">{"endpoint":"/g"}</script>',
    );
  });
});
