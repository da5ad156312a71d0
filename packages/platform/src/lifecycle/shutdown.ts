// Graceful shutdown. Steps run in the order they were added: services add "stop
// accepting" first, then "drain", then "close stores", which is the order they
// must run in. Each step gets a deadline so a stuck one cannot hold the process.
import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly logger: Logger, private readonly stepTimeoutMs = 10_000) {}

  /** Adds a step; steps run in the order they were added. */
  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run: async () => run() });
  }

  /** Runs every step once, even if called again or from several signals. */
  run(reason: string): Promise<void> {
    this.running ??= this.runSteps(reason);
    return this.running;
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /** Runs the steps on SIGTERM/SIGINT, then exits. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.logger.info({ signal }, 'shutting down');
      const exit = (code: number) => this.logger.flush(() => process.exit(code));
      void this.run(signal).then(
        () => exit(0),
        () => exit(1),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  private async runSteps(reason: string): Promise<void> {
    for (const step of this.steps) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          step.run(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${this.stepTimeoutMs} ms`)), this.stepTimeoutMs);
          }),
        ]);
      } catch (error) {
        // Keep going: a failed step must not stop the stores from closing.
        this.logger.error({ err: error, step: step.name, reason }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
