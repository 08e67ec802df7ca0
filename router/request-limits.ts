import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { RouterEnv } from './env.ts';
import type { Decision, Limit, RateLimiter } from './rate-limit.ts';

export const minute = 60_000;

/** A request the edge refuses: its status, error, the reason it is counted under, and its headers. */
export interface Refusal {
  status: number;
  error: MindweaveError;
  reason: string;
  headers: Record<string, string>;
}

type LimitsEnv = Pick<RouterEnv, 'RATE_LIMIT_PER_MINUTE' | 'API_KEY_RATE_LIMIT_PER_MINUTE' | 'COST_BUDGET_PER_MINUTE'>;

/** Whose limits a request spends: its user's, its key's, or else its IP's. */
export function identityKey(identity: Identity, ip: string) {
  switch (identity.kind) {
    case 'user':
      return `user:${identity.userId}`;
    case 'apiKey':
      return `key:${identity.apiKeyId}`;
    default:
      return `ip:${ip}`;
  }
}

export function rateHeaders(decision: Decision): Record<string, string> {
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(decision.resetSeconds),
  };
}

/** The decision whose numbers the X-RateLimit headers report: the refusing one, else the closest to refusing. */
export const tightest = (decisions: Decision[]) =>
  decisions.reduce((a, b) => (b.exceeded && !a.exceeded ? b : b.remaining < a.remaining && a.exceeded === b.exceeded ? b : a));

/** One request against its IP's limit and, unless anonymous, its identity's. */
export const requestLimitsOf = (env: LimitsEnv, identity: Identity, ip: string): Limit[] => [
  { key: `ip:${ip}`, limit: env.RATE_LIMIT_PER_MINUTE, amount: 1 },
  ...(identity.kind === 'anonymous'
    ? []
    : [
        {
          key: identityKey(identity, ip),
          limit: identity.kind === 'apiKey' ? env.API_KEY_RATE_LIMIT_PER_MINUTE : env.RATE_LIMIT_PER_MINUTE,
          amount: 1,
        },
      ]),
];

/**
 * Request counts and cost budget, checked (and spent) together in one round trip. Answers the
 * X-RateLimit headers of the request limits, with the refusal when a limit or the budget is spent.
 */
export async function limitRequests(
  limiter: Pick<RateLimiter, 'consumeAll'>,
  env: LimitsEnv,
  identity: Identity,
  ip: string,
  totalCost: number,
): Promise<{ headers: Record<string, string>; refusal?: Refusal }> {
  const limits = requestLimitsOf(env, identity, ip);
  const requestLimits = limits.length;
  if (totalCost > 0) limits.push({ key: `cost:${identityKey(identity, ip)}`, limit: env.COST_BUDGET_PER_MINUTE, amount: totalCost });
  const decisions = await limiter.consumeAll(limits, minute);
  const requestDecision = tightest(decisions.slice(0, requestLimits));
  const headers = rateHeaders(requestDecision);
  if (requestDecision.allowed) return { headers };
  const budget = decisions[requestLimits];
  if (decisions.slice(0, requestLimits).some((d) => d.exceeded) || !budget) {
    const error = new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many requests', { retryAfter: requestDecision.retryAfterSeconds });
    return {
      headers,
      refusal: {
        status: 429,
        error,
        reason: 'rate_limit',
        headers: { ...headers, 'retry-after': String(requestDecision.retryAfterSeconds) },
      },
    };
  }
  const error = new MindweaveError(ErrorCode.RATE_LIMITED, `Cost budget of ${env.COST_BUDGET_PER_MINUTE} a minute spent`, {
    retryAfter: budget.retryAfterSeconds,
    cost: totalCost,
  });
  return {
    headers,
    refusal: { status: 429, error, reason: 'cost_budget', headers: { ...headers, 'retry-after': String(budget.retryAfterSeconds) } },
  };
}

/** A request refused for its document still counts against the request limits: spends them, and answers their headers. */
export async function countRefused(limiter: Pick<RateLimiter, 'consumeAll'>, env: LimitsEnv, identity: Identity, ip: string) {
  return rateHeaders(tightest(await limiter.consumeAll(requestLimitsOf(env, identity, ip), minute)));
}
