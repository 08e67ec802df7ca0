import { createHash } from 'node:crypto';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { RouterEnv } from './env.ts';
import type { RateLimiter } from './rate-limit.ts';
import { minute, type Refusal } from './request-limits.ts';

// The mutations that take credentials: limited per IP and per email, then blocked for a while.
const authMutations = new Set(['login', 'register', 'refreshToken', 'requestPasswordReset', 'resetPassword', 'verifyMfaLogin']);

/** Whether a mutation with these root fields takes credentials. */
export const takesCredentials = (rootFields: readonly string[]) => rootFields.some((field) => authMutations.has(field));

/** The email a credential mutation is about (`input.email`, else `email`), normalized; undefined without one. */
export function emailOf(variables: Record<string, unknown> | undefined): string | undefined {
  const input = variables?.['input'];
  const candidate =
    (typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['email'] : undefined) ?? variables?.['email'];
  return typeof candidate === 'string' ? candidate.trim().toLowerCase() : undefined;
}

/**
 * Credential attempts per IP and per email (hashed): refused while either is blocked; past
 * AUTH_RATE_LIMIT_PER_MINUTE the key is blocked for AUTH_BLOCK_SECONDS. Null when allowed.
 */
export async function limitCredentials(
  limiter: Pick<RateLimiter, 'blockedFor' | 'consume' | 'block'>,
  env: Pick<RouterEnv, 'AUTH_RATE_LIMIT_PER_MINUTE' | 'AUTH_BLOCK_SECONDS'>,
  ip: string,
  email: string | undefined,
  headers: Record<string, string>,
): Promise<Refusal | null> {
  const keys = [`auth-ip:${ip}`, ...(email ? [`auth-email:${createHash('sha256').update(email).digest('hex')}`] : [])];
  for (const key of keys) {
    const blocked = await limiter.blockedFor(key);
    if (blocked > 0)
      return {
        status: 429,
        error: new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many attempts; try again later', { retryAfter: blocked }),
        reason: 'auth_blocked',
        headers: { ...headers, 'retry-after': String(blocked) },
      };
  }
  for (const key of keys) {
    const decision = await limiter.consume(key, env.AUTH_RATE_LIMIT_PER_MINUTE, minute);
    if (!decision.allowed) {
      await limiter.block(key, env.AUTH_BLOCK_SECONDS);
      return {
        status: 429,
        error: new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many attempts; try again later', { retryAfter: env.AUTH_BLOCK_SECONDS }),
        reason: 'auth_limit',
        headers: { ...headers, 'retry-after': String(env.AUTH_BLOCK_SECONDS) },
      };
    }
  }
  return null;
}
