import type { IncomingMessage, ServerResponse } from 'node:http';

/** A dependency probe: resolves when the dependency answers. */
export type HealthCheck = () => Promise<unknown>;

type CheckResult = { status: 'up' | 'down'; latencyMs: number; error?: string };

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up', latencyMs: round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', latencyMs: round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * `/health/live` (the process answers), `/health/ready` (503 while a dependency is down) and
 * `/health` (each dependency with its latency).
 */
export function createHealthRoutes(service: string, checks: Record<string, HealthCheck>, timeoutMs = 2000) {
  async function runAll() {
    const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
    const dependencies = Object.fromEntries(entries);
    const ready = entries.every(([, result]) => result.status === 'up');
    return { ready, dependencies };
  }

  /** Answers the request and returns true when it was a health route. */
  return async function handleHealth(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/health/live') {
      sendJson(res, 200, { status: 'ok', service });
      return true;
    }
    if (path === '/health/ready' || path === '/health') {
      const { ready, dependencies } = await runAll();
      const body =
        path === '/health'
          ? { status: ready ? 'ok' : 'degraded', service, uptimeSeconds: Math.round(process.uptime()), dependencies }
          : { status: ready ? 'ready' : 'not ready', service, dependencies: Object.fromEntries(Object.entries(dependencies).map(([k, v]) => [k, v.status])) };
      sendJson(res, ready ? 200 : 503, body);
      return true;
    }
    return false;
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}
