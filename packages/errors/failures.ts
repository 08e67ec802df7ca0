// Whether an error says a dependency could not answer (down, slow, overloaded) rather than that the
// request or event is bad. Such a failure passes: the same work succeeds later, so the subgraphs
// answer it with UNAVAILABLE (retry) and the event bus keeps the event instead of dead-lettering it.

/** Network, pool and server-state errors of Node, undici, pg, Prisma and ioredis. */
const passingCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  // PostgreSQL: admin or crash shutdown, cannot connect now, serialization failure, deadlock.
  '57P01',
  '57P02',
  '57P03',
  '40001',
  '40P01',
  // Prisma: database unreachable, timed out, connection closed, pool timeout, write conflict.
  'P1001',
  'P1002',
  'P1017',
  'P2024',
  'P2034',
]);
const passingMessages = /connection (is closed|terminated)|timeout exceeded when trying to connect|timed out|socket hang up|ECONNREFUSED|the database system is (starting up|shutting down)/i;

function* causes(error: unknown, depth = 0): Generator<unknown> {
  if (error === undefined || error === null || depth > 5) return;
  yield error;
  if (error instanceof AggregateError) for (const inner of error.errors) yield* causes(inner, depth + 1);
  if (error instanceof Error) yield* causes(error.cause, depth + 1);
  // GraphQLError keeps what a resolver threw as originalError.
  const original = (error as { originalError?: unknown }).originalError;
  if (original !== undefined && original !== error) yield* causes(original, depth + 1);
}

/** True when the error, or one it wraps, says a dependency could not answer rather than that the input is bad. */
export function isPassingFailure(error: unknown): boolean {
  for (const cause of causes(error)) {
    if (typeof cause !== 'object' || cause === null) continue;
    const { code, name, message } = cause as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && (passingCodes.has(code) || /^(08|53)/.test(code))) return true;
    if (name === 'MaxRetriesPerRequestError' || name === 'TimeoutError') return true;
    if (typeof message === 'string' && passingMessages.test(message)) return true;
  }
  return false;
}
