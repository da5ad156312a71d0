// One error type with a closed set of codes. Domain code throws AppError; the
// gRPC boundary (error-middleware.ts) turns it into a status. Anything else
// becomes INTERNAL with a generic message, the original kept in `cause` and logged.
import { Status } from 'nice-grpc-common';

/** The closed set of failure kinds, each with one gRPC status. */
export const ErrorCode = {
  InvalidArgument: 'invalid_argument',
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  PermissionDenied: 'permission_denied',
  Unauthenticated: 'unauthenticated',
  FailedPrecondition: 'failed_precondition',
  ResourceExhausted: 'resource_exhausted',
  Unavailable: 'unavailable',
  DeadlineExceeded: 'deadline_exceeded',
  Aborted: 'aborted',
  Unimplemented: 'unimplemented',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const grpcStatusOf: Record<ErrorCode, Status> = {
  invalid_argument: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  already_exists: Status.ALREADY_EXISTS,
  permission_denied: Status.PERMISSION_DENIED,
  unauthenticated: Status.UNAUTHENTICATED,
  failed_precondition: Status.FAILED_PRECONDITION,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  deadline_exceeded: Status.DEADLINE_EXCEEDED,
  aborted: Status.ABORTED,
  unimplemented: Status.UNIMPLEMENTED,
  internal: Status.INTERNAL,
};

export interface AppErrorOptions {
  /** Stable machine-readable reason such as "FRAME_TOO_LARGE"; sent to clients. */
  reason?: string;
  /** The underlying error; logged, never sent. */
  cause?: unknown;
  /** For ResourceExhausted: when the caller may try again, in milliseconds. */
  retryAfterMs?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly reason: string | undefined;
  readonly retryAfterMs: number | undefined;

  /** `message` is shown to the caller: write a sentence a person understands. */
  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
  }

  get grpcStatus(): Status {
    return grpcStatusOf[this.code];
  }

  static invalidArgument(message: string, reason?: string): AppError {
    return new AppError(ErrorCode.InvalidArgument, message, { reason });
  }
  static notFound(message: string, reason?: string): AppError {
    return new AppError(ErrorCode.NotFound, message, { reason });
  }
  static unauthenticated(message: string, reason?: string): AppError {
    return new AppError(ErrorCode.Unauthenticated, message, { reason });
  }
  static permissionDenied(message: string, reason?: string): AppError {
    return new AppError(ErrorCode.PermissionDenied, message, { reason });
  }
  static failedPrecondition(message: string, reason?: string): AppError {
    return new AppError(ErrorCode.FailedPrecondition, message, { reason });
  }
  static unavailable(message: string, cause?: unknown): AppError {
    return new AppError(ErrorCode.Unavailable, message, { cause });
  }
}

/** Maps a gRPC status back to an ErrorCode, for errors that cross a service boundary. */
export function errorCodeOfGrpcStatus(status: Status): ErrorCode {
  for (const [code, s] of Object.entries(grpcStatusOf)) if (s === status) return code as ErrorCode;
  return ErrorCode.Internal;
}

export function grpcStatusOfErrorCode(code: ErrorCode): Status {
  return grpcStatusOf[code];
}
