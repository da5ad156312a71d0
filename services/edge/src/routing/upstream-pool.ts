// The live instances of one upstream service, as the registry last reported
// them, each behind its own circuit. Calls go round-robin over the instances
// whose circuit lets them through. A call whose connection cannot be made never
// reached the upstream, so it is tried on the next instance (at most
// MAX_ATTEMPTS in all) before the caller hears UNAVAILABLE.
import { UpstreamCircuit, type CircuitOptions, type CircuitStateName } from './upstream-circuit.js';

/** Instances one call may try when connections fail; bounds the wait when many hosts hang. */
const MAX_ATTEMPTS = 3;

/** Why no instance could take a call; `message` is shown to the caller. */
export class UpstreamUnavailableError extends Error {
  constructor(
    readonly upstream: string,
    readonly reason: 'no-instance' | 'all-open' | 'unreachable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamUnavailableError';
  }
}

/**
 * What connecting to one instance produced: the value handed to the caller, and
 * the call's transport outcome as seen later (rejects on a transport failure,
 * resolves once the upstream answered or the caller left), which feeds the circuit.
 */
export interface Connected<T> {
  value: T;
  outcome: Promise<void>;
}

export interface UpstreamPoolHooks {
  /**
   * The circuit of `address` changed state (`changed`), or a new instance starts
   * out closed (`changed` false).
   */
  onCircuitState(address: string, state: CircuitStateName, changed: boolean): void;
  /** `address` left the registry's list. */
  onRemoved(address: string): void;
  /** A connection attempt failed; the call moves on to another instance. */
  onConnectFailure(address: string, error: unknown): void;
}

export class UpstreamPool {
  private instances: UpstreamCircuit[] = [];
  private cursor = 0;
  private reported = false;

  constructor(
    /** Shown in messages and metrics: "auth", "core", "connect", "connectWs". */
    readonly name: string,
    private readonly circuit: CircuitOptions,
    private readonly hooks: UpstreamPoolHooks,
  ) {}

  /** True once the registry has reported a list (possibly empty). */
  get hasReport(): boolean {
    return this.reported;
  }

  /** Every known instance address, in the registry's order. */
  addresses(): string[] {
    return this.instances.map((instance) => instance.address);
  }

  /** Instances not held back by an open circuit. */
  servingAddresses(): string[] {
    const now = Date.now();
    return this.instances.filter((instance) => instance.mayServe(now)).map((instance) => instance.address);
  }

  /** Replaces the instance list; instances that stay keep their circuit. */
  update(addresses: readonly string[]): void {
    this.reported = true;
    const kept = new Map(this.instances.map((instance) => [instance.address, instance]));
    const next: UpstreamCircuit[] = [];
    for (const address of new Set(addresses)) {
      const existing = kept.get(address);
      if (existing) {
        kept.delete(address);
        next.push(existing);
        continue;
      }
      next.push(new UpstreamCircuit(address, this.circuit, (state) => this.hooks.onCircuitState(address, state, true)));
      this.hooks.onCircuitState(address, 'closed', false);
    }
    this.instances = next;
    for (const removed of kept.values()) {
      removed.dispose();
      this.hooks.onRemoved(removed.address);
    }
  }

  /**
   * The next instance address whose circuit accepts calls, round-robin, without
   * placing a call (for clients with their own connection, such as the JWKS fetch).
   */
  pickAddress(): string | undefined {
    return this.pick(new Set())?.address;
  }

  /** True when `address` is listed and its circuit is not holding calls back. */
  serves(address: string): boolean {
    const instance = this.instances.find((candidate) => candidate.address === address);
    return instance !== undefined && instance.mayServe();
  }

  /**
   * Connects a call to an instance: `connect` runs against one instance at a time
   * until one succeeds. Rejects with UpstreamUnavailableError when there is no
   * instance, every circuit is open, or every attempt failed to connect.
   */
  async open<T>(connect: (address: string) => Promise<Connected<T>>): Promise<T> {
    const tried = new Set<UpstreamCircuit>();
    let lastError: unknown;
    while (tried.size < MAX_ATTEMPTS) {
      const instance = this.pick(tried);
      if (!instance) break;
      tried.add(instance);
      try {
        return await this.attempt(instance, connect);
      } catch (error) {
        lastError = error;
        this.hooks.onConnectFailure(instance.address, error);
      }
    }
    throw this.unavailable(tried.size, lastError);
  }

  /** Stops every circuit (the pool is being dropped). */
  close(): void {
    for (const instance of this.instances) instance.dispose();
    this.instances = [];
  }

  /**
   * Runs one connection through the instance's circuit. The circuit's verdict
   * waits for the call's transport outcome, long after the caller got its value.
   */
  private attempt<T>(instance: UpstreamCircuit, connect: (address: string) => Promise<Connected<T>>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      instance
        .run(async () => {
          const connected = await connect(instance.address);
          resolve(connected.value);
          await connected.outcome;
        })
        // Before resolve() this is the connect failure (or BrokenCircuitError when
        // the circuit opened meanwhile); after it, a failure the call itself reports
        // to its caller, so rejecting the settled promise changes nothing.
        .catch(reject);
    });
  }

  private pick(tried: ReadonlySet<UpstreamCircuit>): UpstreamCircuit | undefined {
    const count = this.instances.length;
    const now = Date.now();
    for (let step = 0; step < count; step += 1) {
      const index = (this.cursor + step) % count;
      const instance = this.instances[index]!;
      if (tried.has(instance) || !instance.acceptsCalls(now)) continue;
      this.cursor = (index + 1) % count;
      return instance;
    }
    return undefined;
  }

  private unavailable(attempts: number, cause: unknown): UpstreamUnavailableError {
    const upstream = this.name;
    if (this.instances.length === 0) {
      const why = this.reported ? 'no instance is registered' : 'the service registry has not answered yet';
      return new UpstreamUnavailableError(upstream, 'no-instance', `The ${upstream} service is unreachable right now (${why}). Try again shortly.`);
    }
    if (attempts === 0) {
      return new UpstreamUnavailableError(
        upstream,
        'all-open',
        `The ${upstream} service is unreachable right now: every instance is failing, so the edge holds calls back for a few seconds. Try again shortly.`,
      );
    }
    return new UpstreamUnavailableError(upstream, 'unreachable', `The ${upstream} service is unreachable right now. Try again shortly.`, { cause });
  }
}
