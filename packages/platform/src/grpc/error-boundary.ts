// The one place where errors become gRPC statuses. AppError keeps its code and
// message; ServerError (already a status) passes through; anything else is logged
// with its stack and the caller sees INTERNAL with a generic message.
import { isAbortError } from 'abort-controller-x';
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc';
import type { Logger } from 'pino';
import { AppError } from '../errors/app-error.js';
import { isDatabaseBusy, isDatabaseUnavailable } from '../storage/database-unavailable.js';

export function errorBoundary(logger: Logger): ServerMiddleware {
  return async function* boundary(call, context) {
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      // The reason and retry hint ride in trailers so clients can branch on them
      // without parsing the message.
      if (error instanceof AppError) {
        if (error.reason) context.trailer.set('im-error-reason', error.reason);
        if (error.retryAfterMs !== undefined) context.trailer.set('im-retry-after-ms', String(error.retryAfterMs));
      }
      throw toServerError(error, call.method.path, logger);
    }
  };
}

export function toServerError(error: unknown, method: string, logger: Logger): unknown {
  if (error instanceof AppError) {
    if (error.cause !== undefined) logger.warn({ err: error.cause, method, code: error.code }, error.message);
    return new ServerError(error.grpcStatus, error.message);
  }
  if (error instanceof ServerError) return error;
  // The client went away or the server is shutting down: nothing to report.
  if (isAbortError(error)) return error;
  // Overload is not an outage either: the same retryable answer, in true words.
  if (isDatabaseBusy(error)) {
    logger.warn({ method }, 'database pool busy: no connection came free in time');
    return new ServerError(
      Status.UNAVAILABLE,
      'The service is too busy to take this call right now (all its database connections are in use). Try again shortly; retrying an idempotent call is safe.',
    );
  }
  // A database outage is not a bug: answer retryable, log once as a warning.
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error, method }, 'database unavailable');
    return new ServerError(Status.UNAVAILABLE, 'The service cannot reach its database right now. Try again shortly; retrying an idempotent call is safe.');
  }
  logger.error({ err: error, method }, 'unhandled error in gRPC handler');
  return new ServerError(Status.INTERNAL, 'Internal error. It has been logged; try again later.');
}
