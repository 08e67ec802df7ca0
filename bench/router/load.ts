import autocannon from 'autocannon';
import { benchQuery } from './seed.ts';

export interface Target {
  name: string;
  url: string;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  token: string;
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
  /** Responses with a 2xx status whose body is not the query's data (GraphQL errors). */
  badBodies: number;
  firstBadBody: string | null;
}

/**
 * A 2xx response can still carry GraphQL errors; every body is checked with a cheap string test
 * (the seeded names never contain `"errors"`), so the load generator spends little on it.
 */
function bodyChecker() {
  let firstBad: string | null = null;
  const verify = (body: string | Buffer | undefined) => {
    const text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
    const ok = text.includes('"data":{"me":{') && !text.includes('"errors"');
    if (!ok && firstBad === null) firstBad = text.slice(0, 500);
    return ok;
  };
  return { verify, firstBad: () => firstBad };
}

export async function runRound(target: Target, options: LoadOptions): Promise<RoundResult> {
  const checker = bodyChecker();
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: JSON.stringify({ query: benchQuery, operationName: 'Bench' }),
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 10,
    verifyBody: checker.verify,
  });
  return {
    target: target.name,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    connectionErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    // A non-2xx response never has the query's data, so it is a mismatch too: count it once.
    badBodies: Math.max(0, result.mismatches - result.non2xx),
    firstBadBody: checker.firstBad(),
  };
}

export function errorCount(round: RoundResult): number {
  return round.non2xx + round.connectionErrors + round.timeouts + round.badBodies;
}
