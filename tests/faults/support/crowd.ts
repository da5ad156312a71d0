// A crowd of SDK devices spread over child processes (crowd-worker.ts), for
// scenarios with thousands of clients: each process takes its share of users,
// logs their devices in and holds their WebSockets from its own loopback source
// address. What the devices show is recorded in the scenario's History like any
// other device, so the history checker judges them too.
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { BackoffOptions } from '@im-mesh/sdk';
import type { History } from './history.js';
import { until } from './storm.js';

export interface CrowdShown {
  device: string;
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  /** Date.now() in the worker when the device showed it. */
  at: number;
}

export type CrowdCommand =
  | {
      type: 'start';
      edgeUrl: string;
      users: Array<{ name: string; password: string }>;
      devicesPerUser: number;
      parallelLogins: number;
      parallelConnects: number;
      reconnect?: BackoffOptions;
    }
  | { type: 'status' }
  | { type: 'close' };

export type CrowdEvent =
  | { type: 'logged-in'; users: Array<{ name: string; userId: string }>; devices: Array<{ name: string; userId: string }> }
  | { type: 'connected' }
  | { type: 'shown'; items: CrowdShown[] }
  | { type: 'status'; connected: number; total: number; drops: number }
  | { type: 'closed' }
  | { type: 'failed'; message: string };

export interface CrowdOptions {
  /** The edge the crowd's unary calls and WebSockets go through. */
  edgeUrl: string;
  /** Names users (and their devices) uniquely per run. */
  run: string;
  devices: number;
  devicesPerUser: number;
  /** Child processes; each gets source address 127.0.0.(2 + index). At most 8. */
  processes: number;
  reconnect?: BackoffOptions;
}

export interface CrowdUser {
  name: string;
  userId: string;
}

const repoRoot = resolve(import.meta.dirname, '../../..');
const workerPath = resolve(import.meta.dirname, 'crowd-worker.ts');

interface Worker {
  child: ChildProcess;
  connected: boolean;
  loggedIn: boolean;
  closed: boolean;
  status: { connected: number; total: number; drops: number } | undefined;
  failure: string | undefined;
}

export class Crowd {
  readonly users: CrowdUser[] = [];
  private readonly workers: Worker[] = [];

  private constructor(private readonly history: History) {}

  /** Starts the processes, registers the users, logs every device in and connects it; resolves when all are synced. */
  static async start(history: History, options: CrowdOptions, timeoutMs: number): Promise<Crowd> {
    if (options.processes < 1 || options.processes > 8) throw new Error('a crowd runs in 1 to 8 processes');
    const crowd = new Crowd(history);
    const userCount = Math.ceil(options.devices / options.devicesPerUser);
    try {
      for (let index = 0; index < options.processes; index += 1) {
        const users = [];
        for (let u = index; u < userCount; u += options.processes) users.push({ name: `crowd${u}_${options.run}`, password: `pw-${options.run}-${u}-crowd` });
        crowd.spawn(index, {
          type: 'start',
          edgeUrl: options.edgeUrl,
          users,
          devicesPerUser: options.devicesPerUser,
          // About 16 logins in flight in all: enough to keep auth's argon2 threads busy, not more.
          parallelLogins: Math.ceil(16 / options.processes),
          parallelConnects: 25,
          reconnect: options.reconnect,
        });
      }
      await until('every crowd device to log in', () => crowd.check() && crowd.workers.every((worker) => worker.loggedIn), timeoutMs);
      await until('every crowd device to connect and sync', () => crowd.check() && crowd.workers.every((worker) => worker.connected), timeoutMs);
    } catch (error) {
      await crowd.close();
      throw error;
    }
    return crowd;
  }

  private spawn(index: number, start: CrowdCommand): void {
    const child = fork(workerPath, [], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH ?? '', CROWD_SOURCE_ADDRESS: `127.0.0.${2 + index}` },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: Worker = { child, connected: false, loggedIn: false, closed: false, status: undefined, failure: undefined };
    child.on('message', (event: CrowdEvent) => this.received(worker, event));
    child.on('exit', (code, signal) => {
      if (!worker.closed) worker.failure ??= `crowd process ${index} exited (${code ?? signal})`;
      worker.closed = true;
    });
    this.workers.push(worker);
    child.send(start);
  }

  private received(worker: Worker, event: CrowdEvent): void {
    switch (event.type) {
      case 'logged-in':
        this.users.push(...event.users);
        for (const device of event.devices) this.history.devices.set(device.name, device);
        worker.loggedIn = true;
        return;
      case 'connected':
        worker.connected = true;
        return;
      case 'shown': {
        // Worker clocks are this machine's clock: map each time onto the history's.
        const offset = this.history.now() - Date.now();
        for (const item of event.items) {
          this.history.shown.push({
            device: item.device,
            messageId: item.messageId,
            conversationId: item.conversationId,
            seq: item.seq,
            senderId: item.senderId,
            clientMsgId: item.clientMsgId,
            shownAt: item.at + offset,
          });
        }
        return;
      }
      case 'status':
        worker.status = event;
        return;
      case 'closed':
        worker.closed = true;
        return;
      case 'failed':
        worker.failure ??= event.message;
        return;
    }
  }

  /** True while no worker failed; throws the first failure. */
  private check(): boolean {
    const failed = this.workers.find((worker) => worker.failure !== undefined);
    if (failed) throw new Error(`a crowd process failed: ${failed.failure}`);
    return true;
  }

  get deviceCount(): number {
    return [...this.history.devices.keys()].filter((name) => name.startsWith('crowd')).length;
  }

  /** Asks every worker how many of its devices are connected, and how often they dropped. */
  async status(): Promise<{ connected: number; total: number; drops: number }> {
    this.check();
    for (const worker of this.workers) {
      worker.status = undefined;
      worker.child.send({ type: 'status' } satisfies CrowdCommand);
    }
    await until('the crowd processes to report', () => this.check() && this.workers.every((worker) => worker.status !== undefined), 10_000);
    return this.workers.reduce(
      (sum, worker) => ({ connected: sum.connected + worker.status!.connected, total: sum.total + worker.status!.total, drops: sum.drops + worker.status!.drops }),
      { connected: 0, total: 0, drops: 0 },
    );
  }

  /** Closes every device (acks flushed), then the processes; kills a process that does not finish in 10 s. */
  async close(): Promise<void> {
    for (const worker of this.workers) if (!worker.closed && worker.child.connected) worker.child.send({ type: 'close' } satisfies CrowdCommand);
    await until('the crowd to close', () => this.workers.every((worker) => worker.closed), 10_000).catch(() => undefined);
    for (const worker of this.workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    }
  }
}
