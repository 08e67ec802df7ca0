/** What a person reads when something fails: a sentence to act on, and the details for a report. */
export interface Problem {
  title: string;
  detail?: string;
  /** Seconds after which trying again makes sense (RATE_LIMITED, UNAVAILABLE). */
  retryAfterSeconds?: number;
  /** Whether the same request may succeed later; not when it was refused for who asked or what was sent. */
  retryable: boolean;
  requestId?: string;
}

/** The roles that manage an organization: its projects, keys, policies and webhooks (the schema's descriptions). */
export const managers = ['OWNER', 'ADMIN'] as const;

/** What was being done, so that FORBIDDEN can say which role it takes. */
export interface Attempt {
  /** "create API keys", "see webhook endpoints"... */
  action: string;
  /** The roles that may do it (the schema's descriptions say which). */
  roles?: readonly string[];
  /** The signed-in user's role in the organization. */
  role?: string | undefined;
}

/** The shape of the SDK's MindWeaveError, read without importing it, and of plain errors. */
interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  status?: number;
  extensions?: Readonly<Record<string, unknown>>;
  requestId?: string;
}

const lower = (role: string) => role.toLowerCase();

export function listOf(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

function retryAfterOf(error: ErrorLike): number | undefined {
  const value = error.extensions?.['retryAfter'];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
}

export function inSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * Turns an error from the SDK (a MindWeaveError with the contract's code), the network or the
 * browser into a Problem: what happened and what to do, in words, with the request id to quote.
 */
export function describeError(error: unknown, attempt?: Attempt): Problem {
  const e: ErrorLike = typeof error === 'object' && error !== null ? (error as ErrorLike) : { message: String(error) };
  const rawCode = typeof e.extensions?.['code'] === 'string' ? (e.extensions['code'] as string) : e.code;
  const retryAfter = retryAfterOf(e);
  const requestId = e.requestId ?? (typeof e.extensions?.['requestId'] === 'string' ? (e.extensions['requestId'] as string) : undefined);
  const withId = (problem: Omit<Problem, 'retryable'>, retryable = true): Problem => ({
    ...problem,
    retryable,
    ...(requestId ? { requestId } : {}),
  });

  if (rawCode === 'UNAVAILABLE' || e.status === 503 || (rawCode === 'INTERNAL_SERVER_ERROR' && retryAfter !== undefined)) {
    const wait = retryAfter ?? 5;
    return withId({
      title: `A MindWeave service is not answering right now. Try again in ${inSeconds(wait)}.`,
      detail: e.message,
      retryAfterSeconds: wait,
    });
  }
  switch (rawCode) {
    case 'RATE_LIMITED': {
      const wait = retryAfter ?? 60;
      const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
      return withId({
        title: `Too many requests. Try again in ${inSeconds(wait)} (at ${at}).`,
        detail: e.message,
        retryAfterSeconds: wait,
      });
    }
    case 'FORBIDDEN': {
      if (attempt?.roles?.length) {
        const you = attempt.role ? ` You are ${/^[aeiou]/i.test(attempt.role) ? 'an' : 'a'} ${lower(attempt.role)}.` : '';
        return withId(
          {
            title: `Only ${listOf(attempt.roles.map((r) => `${lower(r)}s`))} of this organization can ${attempt.action}.${you}`,
            detail: e.message,
          },
          false,
        );
      }
      return withId({ title: attempt ? `You may not ${attempt.action}.` : 'You may not do this.', detail: e.message }, false);
    }
    case 'UNAUTHENTICATED':
      return withId({ title: 'Your session has ended. Sign in again.', detail: e.message }, false);
    case 'NOT_FOUND':
      return withId(
        {
          title: attempt
            ? `Could not ${attempt.action}: it does not exist, or you cannot see it.`
            : 'Not found: it does not exist, or you cannot see it.',
          detail: e.message,
        },
        false,
      );
    case 'COST_LIMIT_EXCEEDED':
      return withId({ title: 'This asks for too much at once. Choose a shorter period or fewer rows.', detail: e.message }, false);
    case 'PERSISTED_QUERY_NOT_ALLOWED':
    case 'PERSISTED_QUERY_NOT_FOUND':
      return withId(
        {
          title: 'This router does not know the dashboard’s operations: its trusted documents manifest is older than the dashboard.',
          detail: e.message,
        },
        false,
      );
    case 'BAD_USER_INPUT':
    case 'POLICY_VIOLATION':
    case 'CONFLICT':
      return withId({ title: e.message ?? 'The request was refused.' }, false);
    case 'INTERNAL_SERVER_ERROR':
      return withId({ title: 'Something went wrong on the server. If it keeps happening, quote the request id.', detail: e.message });
    default:
      break;
  }
  // fetch's TypeError ("Failed to fetch"), a WebSocket that could not open...
  if (e.name === 'TypeError' || /fetch|network|WebSocket/i.test(e.message ?? '')) {
    return withId({
      title: 'The MindWeave router cannot be reached. Check your connection, or that the router is running.',
      detail: e.message,
    });
  }
  return withId({ title: e.message || 'Something went wrong.' });
}
