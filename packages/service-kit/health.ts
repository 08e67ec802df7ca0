import type { IncomingMessage, ServerResponse } from 'node:http';

/** A dependency probe: resolves when the dependency answers. */
export type HealthCheck = () => Promise<unknown>;

export type CheckResult = { status: 'up' | 'down'; latencyMs: number; required: boolean; error?: string; details?: unknown };

/** A check's failure that carries what the dependency said of itself (another service's health body). */
export class HealthCheckError extends Error {
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

async function runCheck(check: HealthCheck, timeoutMs: number, required: boolean): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    // A check resolving to an object (another service's health) is reported with it.
    return { status: 'up', latencyMs: round(performance.now() - started), required, ...(isRecord(answer) ? { details: answer } : {}) };
  } catch (error) {
    const details = error instanceof HealthCheckError ? error.details : undefined;
    return {
      status: 'down',
      latencyMs: round(performance.now() - started),
      required,
      error: (error as Error).message,
      ...(details === undefined ? {} : { details }),
    };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export interface HealthOptions {
  /** Dependencies the service works without (one feature degrades): listed in /health, never making it unready; a function when they change. */
  optional?: Record<string, HealthCheck> | (() => Record<string, HealthCheck>);
  /** More of the service's state for /health (a consumer's lag, a queue's depth...). */
  details?: () => Promise<Record<string, unknown>>;
  /** Whether this caller of /health may see errors and details; others see each dependency's status only. Default: everyone. */
  showDetails?: (req: IncomingMessage) => boolean;
  /** Callers of /health within this long share one round of checks (default 1 s): a burst of requests checks each dependency once. */
  reuseMs?: number;
  timeoutMs?: number;
}

/**
 * `/health/live` (the process answers), `/health/ready` (503 while a dependency the service cannot
 * serve without is down: only those belong in `required`) and `/health` (every dependency with its
 * latency, and the service's details): `ok`, `degraded` (an optional dependency is down) or `down`.
 */
export function createHealthRoutes(service: string, required: Record<string, HealthCheck>, options: HealthOptions = {}) {
  const timeoutMs = options.timeoutMs ?? 2_000;
  async function runAll(withOptional: boolean) {
    const checks = [
      ...Object.entries(required).map(([name, check]) => [name, check, true] as const),
      ...(withOptional ? Object.entries(typeof options.optional === 'function' ? options.optional() : (options.optional ?? {})) : []).map(
        ([name, check]) => [name, check, false] as const,
      ),
    ];
    const entries = await Promise.all(
      checks.map(async ([name, check, isRequired]) => [name, await runCheck(check, timeoutMs, isRequired)] as const),
    );
    const ready = entries.every(([, result]) => result.status === 'up' || !result.required);
    const complete = entries.every(([, result]) => result.status === 'up');
    return { ready, status: !ready ? 'down' : complete ? 'ok' : 'degraded', dependencies: Object.fromEntries(entries) };
  }

  const reuseMs = options.reuseMs ?? 1_000;
  let lastReport:
    | {
        at: number;
        report: Promise<{ ready: boolean; status: string; dependencies: Record<string, CheckResult>; details: Record<string, unknown> }>;
      }
    | undefined;
  function report() {
    if (!lastReport || Date.now() - lastReport.at > reuseMs) {
      const details = options.details
        ? options.details().catch((error: unknown) => ({ detailsError: (error as Error).message }))
        : Promise.resolve({});
      lastReport = { at: Date.now(), report: Promise.all([runAll(true), details]).then(([all, more]) => ({ ...all, details: more })) };
    }
    return lastReport.report;
  }

  /** Answers the request and returns true when it was a health route. */
  return async function handleHealth(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/health/live') {
      sendJson(res, 200, { status: 'ok', service });
      return true;
    }
    if (path === '/health/ready') {
      const { ready, dependencies } = await runAll(false);
      sendJson(res, ready ? 200 : 503, {
        status: ready ? 'ready' : 'not ready',
        service,
        dependencies: Object.fromEntries(Object.entries(dependencies).map(([k, v]) => [k, v.status])),
      });
      return true;
    }
    if (path === '/health') {
      const { ready, status, dependencies, details } = await report();
      const full = options.showDetails?.(req) ?? true;
      const shown = full
        ? { dependencies, ...details }
        : { dependencies: Object.fromEntries(Object.entries(dependencies).map(([name, { status: state }]) => [name, { status: state }])) };
      sendJson(res, ready ? 200 : 503, { status, service, uptimeSeconds: Math.round(process.uptime()), ...shown });
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
