// Runs one service's standalone entry point as a child process, the way an
// operator would, and reads the bound addresses from its "is listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export type ServiceName = 'auth' | 'core' | 'connect' | 'edge';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  grpcAddress: string;
  httpAddress: string;
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait, as a crash. */
  kill(): Promise<void>;
  /** SIGSTOP: the process freezes with its sockets open, as a long GC pause or a stuck VM. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGTERM, and SIGKILL if it has not exited within `graceMs`; resolves with the exit code (null when killed). */
  stopWithin(graceMs: number): Promise<number | null>;
}

/** Output kept per process; older output is dropped (a storm at LOG_LEVEL=info is large). */
const MAX_OUTPUT_CHARS = 4_000_000;

const repoRoot = resolve(import.meta.dirname, '../..');

/**
 * The service account core and connect processes call internal methods with, as
 * an operator would provision one: auth knows it (AUTH_SERVICE_ACCOUNTS, added to
 * any accounts a test gives), core and connect hold it (SERVICE_CLIENT_*).
 */
export const MESH_SERVICE_ACCOUNT = { clientId: 'mesh-internal', clientSecret: 'mesh-internal-test-secret-0123456789abcdef' } as const;

function withServiceAccount(service: ServiceName, env: Record<string, string>): Record<string, string> {
  const { clientId, clientSecret } = MESH_SERVICE_ACCOUNT;
  if (service === 'auth') {
    return { ...env, AUTH_SERVICE_ACCOUNTS: [env['AUTH_SERVICE_ACCOUNTS'], `${clientId}:service:${clientSecret}`].filter(Boolean).join(',') };
  }
  if (service === 'core' || service === 'connect') return { SERVICE_CLIENT_ID: clientId, SERVICE_CLIENT_SECRET: clientSecret, ...env };
  return env;
}

export async function startServiceProcess(
  service: ServiceName,
  env: Record<string, string>,
  label: string = service,
  // Generous: on a loaded 2-core machine a cold start (tsx transpiling, migrations) can take minutes.
  startTimeoutMs = 180_000,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...withServiceAccount(service, env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let unparsedFrom = 0;
  let listeningSeen = false;
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > MAX_OUTPUT_CHARS && listeningSeen) {
      output = output.slice(output.length - MAX_OUTPUT_CHARS / 2);
      unparsedFrom = output.length;
    }
  };
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const listening = new Promise<{ grpc: string; http: string }>((done, fail) => {
    const timer = setTimeout(() => {
      // Nobody holds this process yet: left running, it would keep the test process alive.
      child.kill('SIGKILL');
      fail(new Error(`${label} did not start within ${startTimeoutMs} ms:\n${output}`));
    }, startTimeoutMs);
    const onData = (chunk: Buffer) => {
      append(chunk);
      if (listeningSeen) return;
      // Only complete lines not looked at yet: the output may grow large.
      const end = output.lastIndexOf('\n');
      if (end < unparsedFrom) return;
      const lines = output.slice(unparsedFrom, end).split('\n');
      unparsedFrom = end + 1;
      for (const line of lines) {
        if (!line.includes(`${service} is listening`)) continue;
        try {
          const parsed = JSON.parse(line) as { grpc?: string; http?: string };
          if (!parsed.grpc || !parsed.http) continue;
          listeningSeen = true;
          clearTimeout(timer);
          done({ grpc: parsed.grpc, http: parsed.http });
          return;
        } catch {
          // Not a JSON log line.
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', append);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${label} exited with ${code} before listening:\n${output}`));
    });
  });
  const { grpc, http } = await listening;
  return {
    name: label,
    child,
    grpcAddress: grpc,
    httpAddress: http,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stopWithin(graceMs: number) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      // A stopped process would keep SIGTERM pending forever.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<'late'>((done) => (timer = setTimeout(() => done('late'), graceMs)))]);
      clearTimeout(timer);
      if (code !== 'late') return code;
      child.kill('SIGKILL');
      await exited;
      return null;
    },
  };
}
