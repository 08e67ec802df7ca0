import { runLoad, type RoundResult } from '../lib/load.ts';
import { benchQuery } from './seed.ts';

export { errorCount, type RoundResult } from '../lib/load.ts';

export interface Target {
  name: string;
  url: string;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  token: string;
}

/**
 * A 2xx response can still carry GraphQL errors; every body is checked with a cheap string test
 * (the seeded names never contain `"errors"`), so the load generator spends little on it.
 */
const isBenchData = (text: string) => text.includes('"data":{"me":{') && !text.includes('"errors"');

export function runRound(target: Target, options: LoadOptions): Promise<RoundResult> {
  return runLoad(
    target.name,
    {
      url: target.url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
      body: JSON.stringify({ query: benchQuery, operationName: 'Bench' }),
    },
    { connections: options.connections, durationSeconds: options.durationSeconds, verify: isBenchData },
  );
}
