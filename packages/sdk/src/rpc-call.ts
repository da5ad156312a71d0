// One place for how the SDK makes a unary call: bearer token in metadata, a
// deadline, one token refresh on UNAUTHENTICATED, and retries with backoff on
// UNAVAILABLE / DEADLINE_EXCEEDED for methods that are safe to repeat
// (the proto marks them IDEMPOTENT or NO_SIDE_EFFECTS).
import { ClientError, Metadata, Status } from 'nice-grpc-common';
import type { CallOptions } from 'nice-grpc-common';
import type { AccessTokenSource } from './access-token-source.js';
import { sleep } from './timing.js';

export interface CallPolicy {
  /** Deadline of each attempt, in ms. */
  readonly timeoutMs: number;
  /** Attempts in total, at least 1; only UNAVAILABLE and DEADLINE_EXCEEDED are retried. */
  readonly attempts: number;
  /** Delay before the second attempt, in ms; doubles after each further one. */
  readonly retryDelayMs: number;
}

export const DEFAULT_CALL_POLICY: CallPolicy = { timeoutMs: 10_000, attempts: 5, retryDelayMs: 200 };

const RETRYABLE = new Set<Status>([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED]);

/** True for errors after which repeating the same idempotent call may succeed. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ClientError && RETRYABLE.has(error.code);
}

/**
 * Runs `call` with fresh options per attempt. `path` ("/im.message.v1.MessageService/SendMessage")
 * names the method in the DEADLINE_EXCEEDED error the SDK raises itself. With
 * `tokens` undefined the call is anonymous. Aborting `signal` stops at once,
 * without retrying, with the AbortError of the call.
 */
export async function callWithRetry<T>(
  path: string,
  tokens: AccessTokenSource | undefined,
  policy: CallPolicy,
  call: (options: CallOptions) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let refreshed = false;
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    const metadata = Metadata();
    if (tokens !== undefined) {
      metadata.set('authorization', `Bearer ${await tokens.getAccessToken({ forceRefresh: refreshed })}`);
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, policy.timeoutMs);
    const forwardAbort = (): void => controller.abort();
    signal?.addEventListener('abort', forwardAbort);
    try {
      return await call({ metadata, signal: controller.signal });
    } catch (caught) {
      if (signal?.aborted) throw caught;
      const error = timedOut
        ? new ClientError(path, Status.DEADLINE_EXCEEDED, `No answer within ${policy.timeoutMs} ms.`)
        : caught;
      if (error instanceof ClientError && error.code === Status.UNAUTHENTICATED && tokens !== undefined && !refreshed) {
        // The token may have expired between the check and the call: one retry with a new one.
        refreshed = true;
        continue;
      }
      if (!isRetryable(error) || attempt >= policy.attempts) throw error;
      await sleep(policy.retryDelayMs * 2 ** (attempt - 1), signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  }
}
