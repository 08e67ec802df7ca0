import autocannon from 'autocannon';

/** One HTTP request, sent again and again over every connection. */
export interface LoadRequest {
  url: string;
  method?: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string;
  /** Several bodies sent in turn on each connection instead of `body`. */
  bodies?: string[];
}

export interface LoadSettings {
  connections: number;
  durationSeconds: number;
  /** A 2xx response whose body fails this is counted in `badBodies`. */
  verify?: (body: string) => boolean;
}

export interface RoundResult {
  target: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  connectionErrors: number;
  timeouts: number;
  /** Responses with a 2xx status whose body is not the expected one (GraphQL errors). */
  badBodies: number;
  firstBadBody: string | null;
}

/** Drives `request` with autocannon for the given time and returns what it measured. */
export async function runLoad(target: string, request: LoadRequest, settings: LoadSettings): Promise<RoundResult> {
  let firstBad: string | null = null;
  const verify = settings.verify;
  const verifyBody = verify
    ? (body: string | Buffer | undefined) => {
        const text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
        const ok = verify(text);
        if (!ok && firstBad === null) firstBad = text.slice(0, 500);
        return ok;
      }
    : undefined;
  const result = await autocannon({
    url: request.url,
    method: request.method ?? 'POST',
    headers: request.headers,
    body: request.body,
    requests: request.bodies?.map((body) => ({ method: request.method ?? 'POST', body })),
    connections: settings.connections,
    duration: settings.durationSeconds,
    timeout: 10,
    verifyBody,
  });
  return {
    target,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    connectionErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    // A non-2xx response never has the expected body, so it is a mismatch too: count it once.
    badBodies: verify ? Math.max(0, result.mismatches - result.non2xx) : 0,
    firstBadBody: firstBad,
  };
}

export function errorCount(round: RoundResult): number {
  return round.non2xx + round.connectionErrors + round.timeouts + round.badBodies;
}
