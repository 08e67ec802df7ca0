import { describe, expect, it } from 'vitest';
import { describeError, inSeconds, listOf } from './errors.ts';

// Errors as the SDK throws them: a MindWeaveError's fields (code, status, extensions, requestId).
const sdkError = (code: string, extensions: Record<string, unknown> = {}, status?: number) => ({
  name: 'MindWeaveError',
  message: `refused: ${code}`,
  code,
  status,
  extensions: { code, ...extensions },
  requestId: 'req-1',
});

describe('describeError', () => {
  it('says when to retry a rate-limited request, from extensions.retryAfter', () => {
    const problem = describeError(sdkError('RATE_LIMITED', { retryAfter: 42 }, 429));
    expect(problem.title).toMatch(/^Too many requests\. Try again in 42 seconds \(at .+\)\.$/);
    expect(problem).toMatchObject({ retryAfterSeconds: 42, retryable: true, requestId: 'req-1' });
    expect(describeError(sdkError('RATE_LIMITED', { retryAfter: 125 })).title).toContain('in 3 minutes');
  });

  it('names the roles an action takes and the role the user has, when FORBIDDEN', () => {
    const problem = describeError(sdkError('FORBIDDEN'), { action: 'create API keys', roles: ['OWNER', 'ADMIN'], role: 'VIEWER' });
    expect(problem.title).toBe('Only owners or admins of this organization can create API keys. You are a viewer.');
    expect(problem.retryable).toBe(false);
    expect(describeError(sdkError('FORBIDDEN'), { action: 'see usage', roles: ['ADMIN'], role: 'OWNER' }).title).toBe(
      'Only admins of this organization can see usage. You are an owner.',
    );
    expect(describeError(sdkError('FORBIDDEN'), { action: 'watch usage' }).title).toBe('You may not watch usage.');
  });

  it('tells an outage from a failure: UNAVAILABLE, a 503, or an internal error with retryAfter', () => {
    for (const error of [
      sdkError('UNAVAILABLE', { retryAfter: 5 }, 503),
      sdkError('INTERNAL_SERVER_ERROR', { retryAfter: 5 }),
      { ...sdkError('INTERNAL_SERVER_ERROR'), status: 503 },
    ]) {
      expect(describeError(error)).toMatchObject({
        title: 'A MindWeave service is not answering right now. Try again in 5 seconds.',
        retryable: true,
      });
    }
    expect(describeError(sdkError('INTERNAL_SERVER_ERROR')).title).toBe(
      'Something went wrong on the server. If it keeps happening, quote the request id.',
    );
  });

  it('passes the server’s own words for bad input, and explains sessions, missing things and safelists', () => {
    expect(describeError(sdkError('BAD_USER_INPUT')).title).toBe('refused: BAD_USER_INPUT');
    expect(describeError(sdkError('UNAUTHENTICATED')).title).toBe('Your session has ended. Sign in again.');
    expect(describeError(sdkError('NOT_FOUND'), { action: 'see this export' }).title).toBe(
      'Could not see this export: it does not exist, or you cannot see it.',
    );
    expect(describeError(sdkError('PERSISTED_QUERY_NOT_ALLOWED')).title).toContain('trusted documents manifest');
  });

  it('reads a failed fetch as the router being out of reach', () => {
    expect(describeError(new TypeError('Failed to fetch')).title).toBe(
      'The MindWeave router cannot be reached. Check your connection, or that the router is running.',
    );
    expect(describeError('plain text').title).toBe('plain text');
  });
});

describe('words', () => {
  it('lists and counts', () => {
    expect(listOf(['a'])).toBe('a');
    expect(listOf(['a', 'b', 'c'])).toBe('a, b or c');
    expect(inSeconds(1)).toBe('1 second');
    expect(inSeconds(60)).toBe('1 minute');
  });
});
