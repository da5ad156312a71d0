// One upstream instance's circuit breaker (cockatiel): after `failures`
// consecutive transport failures the circuit opens and the instance gets no
// calls for `openMs`; then one trial call (half-open) decides whether it closes
// again or stays open for another period. Only the transport counts (connect
// refused or timed out, a session or stream reset before the answer): an
// application status such as NOT_FOUND, or UNAVAILABLE sent by a live upstream,
// is an answer, and says nothing about whether the instance is reachable.
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';

export interface CircuitOptions {
  /** Consecutive transport failures that open the circuit. */
  failures: number;
  /** How long an open circuit keeps calls away before one trial call, in ms. */
  openMs: number;
}

export type CircuitStateName = 'closed' | 'half-open' | 'open';

/** Gauge values of edge_upstream_circuit_state. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitStateName, number>> = { closed: 0, 'half-open': 1, open: 2 };

export class UpstreamCircuit {
  private readonly breaker: CircuitBreakerPolicy;
  private openedAt = 0;
  private readonly subscriptions: Array<{ dispose(): void }> = [];

  constructor(
    readonly address: string,
    private readonly options: CircuitOptions,
    onStateChange: (state: CircuitStateName) => void,
  ) {
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: options.openMs, breaker: new ConsecutiveBreaker(options.failures) });
    this.subscriptions.push(
      this.breaker.onBreak(() => {
        this.openedAt = Date.now();
      }),
      this.breaker.onStateChange(() => onStateChange(this.state())),
    );
  }

  state(): CircuitStateName {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  /**
   * True when a call may be sent here now: the circuit is closed, or it is open
   * and its period is over (that call becomes the trial). False while a trial is
   * in flight: cockatiel would hold further calls until the trial ends, and the
   * edge would rather send them to another instance than make them wait.
   */
  acceptsCalls(now = Date.now()): boolean {
    const state = this.breaker.state;
    if (state === CircuitState.Closed) return true;
    return state === CircuitState.Open && now - this.openedAt >= this.options.openMs;
  }

  /** True unless the circuit is open and its period not over (readiness: the instance may still serve). */
  mayServe(now = Date.now()): boolean {
    return this.breaker.state !== CircuitState.Open || now - this.openedAt >= this.options.openMs;
  }

  /**
   * Runs `attempt` through the breaker: its rejection is a transport failure, its
   * resolution a success. Rejects with cockatiel's BrokenCircuitError, without
   * running `attempt`, when the circuit is open.
   */
  run(attempt: () => Promise<void>): Promise<void> {
    return this.breaker.execute(attempt);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}
