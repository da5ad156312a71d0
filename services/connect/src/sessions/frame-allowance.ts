// FrameAllowance: the inbound frame budget of one connection, a token bucket.
// A client may send `burst` frames at once and `perSecond` frames per second on
// average; beyond that dispatch closes the connection, so one flooding client
// cannot starve the node's event loop.
export class FrameAllowance {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Spends one frame's worth; false when the budget is exhausted. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
