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
}

const repoRoot = resolve(import.meta.dirname, '../..');

export async function startServiceProcess(
  service: ServiceName,
  env: Record<string, string>,
  label: string = service,
  startTimeoutMs = 90_000,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const listening = new Promise<{ grpc: string; http: string }>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${label} did not start within ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const line of output.split('\n')) {
        if (!line.includes(`${service} is listening`)) continue;
        try {
          const parsed = JSON.parse(line) as { grpc?: string; http?: string };
          if (!parsed.grpc || !parsed.http) continue;
          clearTimeout(timer);
          done({ grpc: parsed.grpc, http: parsed.http });
          return;
        } catch {
          // Not a complete JSON line yet.
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
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
  };
}
