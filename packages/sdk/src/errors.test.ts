import { ErrorCode } from '@mindweave/errors';
import { describe, expect, it } from 'vitest';
import { errorCodes, fromGraphQLErrors, fromHttpStatus, fromSubscriptionError, MindWeaveError } from './errors.ts';

describe('error mapping', () => {
  it("knows exactly the contract's codes", () => {
    expect([...errorCodes].sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('maps the first GraphQL error, keeping path, extensions, status and every error', () => {
    const errors = [
      { message: 'Not allowed', path: ['organization', 'projects'], extensions: { code: 'FORBIDDEN', field: 'projects' } },
      { message: 'Also', extensions: { code: 'NOT_FOUND' } },
    ];
    const error = fromGraphQLErrors(errors, { status: 200, requestId: 'req-1', data: { organization: { projects: null } } });
    expect(error).toBeInstanceOf(MindWeaveError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'MindWeaveError',
      message: 'Not allowed',
      code: 'FORBIDDEN',
      path: ['organization', 'projects'],
      extensions: { code: 'FORBIDDEN', field: 'projects' },
      status: 200,
      requestId: 'req-1',
      data: { organization: { projects: null } },
    });
    expect(error.errors).toHaveLength(2);
  });

  it('reads an unknown or missing code as INTERNAL_SERVER_ERROR', () => {
    expect(fromGraphQLErrors([{ message: 'x', extensions: { code: 'SOMETHING_NEW' } }]).code).toBe('INTERNAL_SERVER_ERROR');
    expect(fromGraphQLErrors([{ message: 'x' }]).code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('maps bare HTTP failures by status', () => {
    expect(fromHttpStatus(429)).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(fromHttpStatus(401).code).toBe('UNAUTHENTICATED');
    expect(fromHttpStatus(502).code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('maps what a subscription ends with', () => {
    expect(fromSubscriptionError([{ message: 'Not allowed to watch this organization', extensions: { code: 'FORBIDDEN' } }])).toMatchObject(
      { code: 'FORBIDDEN' },
    );
    expect(fromSubscriptionError({ code: 4403, reason: 'Forbidden' })).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'WebSocket closed with 4403: Forbidden',
    });
    const closed = fromSubscriptionError({ code: 1006, reason: '' });
    expect(closed).not.toBeInstanceOf(MindWeaveError);
    expect(closed.message).toBe('WebSocket closed with 1006');
    const failure = new Error('boom');
    expect(fromSubscriptionError(failure)).toBe(failure);
  });
});
