// The load-client processes of one run (load-worker.ts), each on its own
// loopback source address 127.0.0.2-127.0.0.9, and the calls the scenarios make
// on them. A worker holds at most MAX_CONNECTIONS_PER_WORKER connections, well
// under the 20,000 open files one process may have.
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { WorkerCommand, WorkerReply } from './load-protocol.js';

export const MAX_CONNECTIONS_PER_WORKER = 5_000;
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

type ReplyOf<T extends WorkerReply['type']> = Extract<WorkerReply, { type: T }>;

export interface Totals {
  deliveries: number;
  sendsOk: number;
  sendsFailed: number;
  open: number;
}

export class LoadWorker {
  private waiting: { type: string; done: (reply: WorkerReply) => void; fail: (error: Error) => void } | undefined;
  latest: Totals = { deliveries: 0, sendsOk: 0, sendsFailed: 0, open: 0 };

  constructor(
    readonly child: ChildProcess,
    readonly localAddress: string,
  ) {
    child.on('message', (message: WorkerReply) => {
      if (message.type === 'tick') {
        this.latest = { deliveries: message.deliveries, sendsOk: message.sendsOk, sendsFailed: message.sendsFailed, open: message.open };
        return;
      }
      const waiting = this.waiting;
      if (waiting === undefined) return;
      this.waiting = undefined;
      if (message.type === 'failed') waiting.fail(new Error(`load worker ${localAddress} failed: ${message.message}`));
      else waiting.done(message);
    });
    child.once('exit', (code) => {
      this.waiting?.fail(new Error(`load worker ${localAddress} exited with ${code}`));
      this.waiting = undefined;
    });
  }

  /** Sends one command and resolves with its reply (one command at a time per worker). */
  call<T extends WorkerReply['type']>(command: WorkerCommand, replyType: T): Promise<ReplyOf<T>> {
    if (this.waiting !== undefined) throw new Error(`load worker ${this.localAddress} is busy with ${this.waiting.type}`);
    return new Promise((done, fail) => {
      this.waiting = { type: replyType, done: done as (reply: WorkerReply) => void, fail };
      this.child.send(command);
    });
  }
}

export class WorkerPool {
  private constructor(readonly workers: LoadWorker[]) {}

  /** Forks `count` workers (at least 1) pointed at the edge. */
  static async start(count: number, edgeUrl: string): Promise<WorkerPool> {
    const workers = Array.from({ length: Math.max(1, count) }, (_, i) => {
      const child = fork(resolve(import.meta.dirname, 'load-worker.ts'), [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return new LoadWorker(child, SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length]!);
    });
    const pool = new WorkerPool(workers);
    try {
      await Promise.all(workers.map((worker) => worker.call({ type: 'init', edgeUrl, localAddress: worker.localAddress }, 'ready')));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Workers needed for `connections` connections, within the bench's process budget. */
  static sizeFor(connections: number): number {
    return Math.min(8, Math.max(2, Math.ceil(connections / MAX_CONNECTIONS_PER_WORKER)));
  }

  /** Sum of the workers' latest one-second ticks. */
  totals(): Totals {
    const sum: Totals = { deliveries: 0, sendsOk: 0, sendsFailed: 0, open: 0 };
    for (const worker of this.workers) {
      sum.deliveries += worker.latest.deliveries;
      sum.sendsOk += worker.latest.sendsOk;
      sum.sendsFailed += worker.latest.sendsFailed;
      sum.open += worker.latest.open;
    }
    return sum;
  }

  /** Splits `items` round-robin into one slice per worker. */
  split<T>(items: readonly T[]): T[][] {
    const slices: T[][] = this.workers.map(() => []);
    items.forEach((item, i) => slices[i % slices.length]!.push(item));
    return slices;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((done) => {
            if (worker.child.exitCode !== null) return done();
            const late = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
            worker.child.once('exit', () => {
              clearTimeout(late);
              done();
            });
            worker.child.send({ type: 'close' } satisfies WorkerCommand);
          }),
      ),
    );
  }
}
