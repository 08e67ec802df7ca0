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
  // Prisma: database unreachable, timed out, connection closed, pool timeout, write conflict, too many connections.
  'P1001',
  'P1002',
  'P1017',
  'P2024',
  'P2034',
  'P2037',
]);
// Prisma's driver adapters describe the database's failure in `meta` (a raw query's P2010 says no more than "Raw query failed").
const passingKinds = new Set([
  'DatabaseNotReachable',
  'SocketTimeout',
  'TooManyConnections',
  'ConnectionClosed',
  'TransactionWriteConflict',
]);
const passingMessages =
  /connection (is closed|terminated)|encountered a connection error|timeout exceeded when trying to connect|timed out|socket hang up|ECONNREFUSED|the database system is (starting up|shutting down)|can't reach database server|terminating connection due to administrator command|too many clients already/i;

/** The error and what it wraps: causes, an AggregateError's errors, a GraphQLError's originalError, Prisma's meta. */
function* causes(error: unknown, depth = 0): Generator<unknown> {
  if (typeof error !== 'object' || error === null || depth > 5) return;
  yield error;
  if (error instanceof AggregateError) for (const inner of error.errors) yield* causes(inner, depth + 1);
  const { cause, originalError, meta, driverAdapterError } = error as {
    cause?: unknown;
    originalError?: unknown;
    meta?: unknown;
    driverAdapterError?: unknown;
  };
  for (const inner of [cause, originalError, meta, driverAdapterError]) if (inner !== error) yield* causes(inner, depth + 1);
}

/** True when the error, or one it wraps, says a dependency could not answer rather than that the input is bad. */
export function isPassingFailure(error: unknown): boolean {
  for (const cause of causes(error)) {
    const { code, originalCode, kind, name, message } = cause as {
      code?: unknown;
      originalCode?: unknown;
      kind?: unknown;
      name?: unknown;
      message?: unknown;
    };
    for (const candidate of [code, originalCode])
      if (typeof candidate === 'string' && (passingCodes.has(candidate) || /^(08|53)/.test(candidate))) return true;
    if (typeof kind === 'string' && passingKinds.has(kind)) return true;
    if (name === 'MaxRetriesPerRequestError' || name === 'TimeoutError') return true;
    if (typeof message === 'string' && passingMessages.test(message)) return true;
  }
  return false;
}

/** Failures of a connection that was never made: nothing was sent on it. */
const connectCodes = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * True when the error, or one it wraps, says the request never left (refused, unresolvable,
 * unroutable, no connection in time). Any other failure of a request (reset, closed, timed out
 * waiting for the answer) may come after the other side received it and acted on it.
 */
export function neverSent(error: unknown): boolean {
  for (const cause of causes(error)) {
    const { code } = cause as { code?: unknown };
    if (typeof code === 'string' && connectCodes.has(code)) return true;
  }
  return false;
}
