// Listeners: a tiny typed event list (no Node EventEmitter, so it runs in
// browsers). A listener that throws does not stop the others, nor the SDK.

export type Unsubscribe = () => void;

export class Listeners<Args extends unknown[]> {
  private readonly listeners = new Set<(...args: Args) => void>();

  /** `onListenerError` hears what a listener threw. */
  constructor(private readonly onListenerError: (error: unknown) => void) {}

  add(listener: (...args: Args) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(...args: Args): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
