// FrameAllowance: the inbound frame budget of one connection, a token bucket.
// A client may send `burst` frames at once and `perSecond` frames per second on
// average; beyond that dispatch closes the connection, so one flooding client
// cannot starve the node's event loop. The rate is read on every take, so an
// operator's change (a live setting) applies to connections already open.

export interface FrameRate {
  perSecond: number;
  burst: number;
}

export class FrameAllowance {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly rate: () => FrameRate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = rate().burst;
    this.refilledAt = now();
  }

  /** Spends one frame's worth; false when the budget is exhausted. */
  take(): boolean {
    const now = this.now();
    const { perSecond, burst } = this.rate();
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
