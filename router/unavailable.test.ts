import { HeaderMap } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { outcomeUnknown } from '@mindweave/errors';
import type { RouterContext } from './context.ts';
import { unavailablePlugin } from './unavailable.ts';

const unavailable: GraphQLFormattedError = { message: 'retry shortly', path: ['x'], extensions: { code: 'UNAVAILABLE', retryAfter: 5 } };
const { message, extensions } = outcomeUnknown();
const lost: GraphQLFormattedError = { message, path: ['createProject'], extensions };

type Head = { status?: number; headers: HeaderMap };

/** Runs the plugin over one operation's result, on `head` (a batch's operations share one). */
async function answer(
  result: { data: Record<string, unknown> | null; errors: GraphQLFormattedError[] },
  head: Head,
  mutationMayHaveRun = false,
) {
  const listener = await unavailablePlugin.requestDidStart!({} as never);
  const response = { body: { kind: 'single' as const, singleResult: result }, http: head };
  await listener!.willSendResponse!({ response, contextValue: { mutationMayHaveRun } as Partial<RouterContext> } as never);
  return result;
}

describe('unavailablePlugin', () => {
  it('answers UNAVAILABLE with nothing else answered 503 and Retry-After; partial data stays 200 with it', async () => {
    const whole: Head = { headers: new HeaderMap() };
    await answer({ data: null, errors: [unavailable] }, whole);
    expect(whole.status).toBe(503);
    expect(whole.headers.get('retry-after')).toBe('5');
    const partial: Head = { headers: new HeaderMap() };
    await answer({ data: { y: 1, x: null }, errors: [unavailable] }, partial);
    expect(partial.status).toBeUndefined();
    expect(partial.headers.get('retry-after')).toBe('5');
  });

  it("turns an operation's UNAVAILABLE into outcome unknown once a mutation of it may have been carried out: 502, no Retry-After", async () => {
    const head: Head = { headers: new HeaderMap() };
    const result = await answer({ data: null, errors: [unavailable] }, head, true);
    expect(result.errors[0]).toMatchObject({ message, path: ['x'], extensions: { code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown' } });
    expect(head.status).toBe(502);
    expect(head.headers.get('retry-after')).toBeUndefined();
  });

  it('never tells a batch holding a mutation of unknown outcome to send it again, whichever operation ends first', async () => {
    const unknownFirst: Head = { headers: new HeaderMap() };
    await answer({ data: null, errors: [lost] }, unknownFirst);
    await answer({ data: null, errors: [unavailable] }, unknownFirst);
    const unknownLast: Head = { headers: new HeaderMap() };
    await answer({ data: null, errors: [unavailable] }, unknownLast);
    await answer({ data: { createProject: { id: '1' } }, errors: [lost] }, unknownLast);
    for (const head of [unknownFirst, unknownLast]) {
      expect(head.status).toBe(502);
      expect(head.headers.get('retry-after')).toBeUndefined();
    }
  });
});
