// How long an outbox row waits after its n-th failed publish: exponential from
// 250 ms, capped at 30 s, so a broker outage is retried often at first and then
// without hammering it.
export const FIRST_RETRY_MS = 250;
export const MAX_RETRY_MS = 30_000;

/** Delay in milliseconds before the next attempt, after `failedAttempts` (>= 1) failures. */
export function retryDelayMs(failedAttempts: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, Math.min(failedAttempts - 1, 20)));
}
