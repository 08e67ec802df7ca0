import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Queue } from 'bullmq';
import type express from 'express';
import type { Redis } from 'ioredis';
import { errorBody, internalError, unauthenticated } from '@mindweave/errors';
import { createJobsConnection, jobsPrefix, queueNames } from '@mindweave/jobs';
import { sendJson, type Logger } from '@mindweave/service-kit';

export const adminQueuesPath = '/admin/queues';

export const isAdminQueuesPath = (pathname: string) => pathname === adminQueuesPath || pathname.startsWith(`${adminQueuesPath}/`);

const digest = (value: string) => createHash('sha256').update(value).digest();

/** HTTP Basic credentials, compared in constant time (both sides hashed to the same length first). */
export function checkBasicAuth(header: string | undefined, user: string, password: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return false;
  const userOk = timingSafeEqual(digest(decoded.slice(0, separator)), digest(user));
  const passwordOk = timingSafeEqual(digest(decoded.slice(separator + 1)), digest(password));
  return userOk && passwordOk;
}

/** admin/admin outside production; in production only what ADMIN_USER and ADMIN_PASSWORD say, or nothing. */
export function adminCredentials(env: {
  NODE_ENV: string;
  ADMIN_USER?: string | undefined;
  ADMIN_PASSWORD?: string | undefined;
}): { user: string; password: string } | null {
  if (env.NODE_ENV !== 'production') return { user: env.ADMIN_USER ?? 'admin', password: env.ADMIN_PASSWORD ?? 'admin' };
  return env.ADMIN_USER && env.ADMIN_PASSWORD ? { user: env.ADMIN_USER, password: env.ADMIN_PASSWORD } : null;
}

/**
 * The queue dashboard (bull-board) at /admin/queues, for operators, behind HTTP Basic
 * authentication. Without credentials (production without ADMIN_USER and ADMIN_PASSWORD) it stays
 * locked. It is loaded and its Redis connection opened on the first authenticated request: a router
 * without Redis starts as before, and one nobody opens it on does not carry bull-board, express and
 * their dependencies (a few MB of heap).
 */
export function createQueueDashboard(options: {
  redisUrl: string;
  redisKeyPrefix: string;
  credentials: { user: string; password: string } | null;
  log: Logger;
}) {
  let board: Promise<{ app: express.Express; connection: Redis; queues: Queue[] }> | undefined;
  const { credentials } = options;
  if (!credentials) options.log.warn('/admin/queues is locked: set ADMIN_USER and ADMIN_PASSWORD to open the queue dashboard');

  async function start() {
    const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }, { default: express }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/express'),
      import('express'),
    ]);
    const connection = createJobsConnection(options.redisUrl, 'producer', 'router-admin');
    const queues = queueNames.map(
      (name) => new Queue(name, { connection, prefix: jobsPrefix(options.redisKeyPrefix), skipMetasUpdate: true }),
    );
    for (const queue of queues)
      queue.on('error', (error) => options.log.debug({ err: error, queue: queue.name }, 'queue dashboard connection error'));
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath(adminQueuesPath);
    createBullBoard({
      queues: queues.map((queue) => new BullMQAdapter(queue)),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'MindWeave queues' } },
    });
    const app = express();
    app.disable('x-powered-by');
    app.use(adminQueuesPath, serverAdapter.getRouter());
    return { app, connection, queues };
  }

  /** Serves one authenticated request, starting the board first if needed; a start that failed is tried again by the next one. */
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const starting = (board ??= start());
    let app: express.Express;
    try {
      ({ app } = await starting);
    } catch (error) {
      if (board === starting) board = undefined;
      options.log.error({ err: error }, 'the queue dashboard could not start');
      sendJson(res, 500, errorBody(internalError()));
      return;
    }
    app(req as express.Request, res as express.Response);
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse) {
      if (!credentials || !checkBasicAuth(req.headers.authorization, credentials.user, credentials.password)) {
        sendJson(res, 401, errorBody(unauthenticated('Admin credentials required')), {
          'www-authenticate': 'Basic realm="MindWeave queues", charset="UTF-8"',
        });
        return;
      }
      serve(req, res).catch((error: unknown) => {
        options.log.error({ err: error }, 'the queue dashboard failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    },
    async close() {
      const started = await board?.catch(() => undefined);
      if (!started) return;
      await Promise.all(started.queues.map((queue) => queue.close()));
      started.connection.disconnect();
    },
  };
}
