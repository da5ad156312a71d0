// Recognises errors that mean "the database cannot be reached right now" (as
// opposed to a bug or bad data), so callers get UNAVAILABLE and retry instead of
// INTERNAL. Covers socket errors, connection timeouts, PostgreSQL shutting down
// or restarting, and connection-class SQLSTATEs.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, idle_in_transaction timeout. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '25P03']);
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  // pg.Client's own connect timeout (connectionTimeoutMillis), which openDatabase gives each client.
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection is closed',
];

/**
 * True when a call waited longer than the pool's acquire timeout for a free
 * connection: every connection was busy, which is overload rather than an
 * outage (pg-pool's words for a timed-out wait in its queue; a client's own
 * connect timeout says "timeout expired"). During an outage whose connects hang,
 * queued calls can end this way too; the answer is UNAVAILABLE either way.
 */
export function isDatabaseBusy(error: unknown): boolean {
  return causes(error).some((candidate) => candidate.message === 'timeout exceeded when trying to connect');
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return causes(error).some((candidate) => {
    const code = typeof candidate.code === 'string' ? candidate.code : undefined;
    if (code && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
    const message = typeof candidate.message === 'string' ? candidate.message : '';
    return CONNECTION_MESSAGES.some((text) => message.includes(text));
  });
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

/** The error and what it wraps, five deep at most: TypeORM wraps driver errors (QueryFailedError.driverError); others use cause. */
function causes(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  for (let current = error as ErrorLike | undefined; current && chain.length < 5; current = (current.driverError ?? current.cause) as ErrorLike | undefined) {
    chain.push(current);
  }
  return chain;
}
