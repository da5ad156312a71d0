// Starts the system a benchmark measures, in one of two modes, and stops it:
// - embedded: the all-in-one (services/all-in-one) in one child process on its own
//   embedded PostgreSQL, in-memory presence and bus, exactly what `npm start` runs;
// - split: each service its own process (auth, N cores, N connect nodes, edge) on the
//   machine's PostgreSQL (a fresh database), Redis and RabbitMQ, the way
//   README "Deploying the distributed version" runs it (tests/support/service-process.ts).
//
// The only settings changed from the shipped defaults are the edge's per-IP and
// per-user rate limits and its per-IP connection cap, and auth's brute-force limits
// on logins and registrations: every load client comes from eight loopback
// addresses and a bench user logs in up to 100 devices, so limits meant for the
// internet would measure the limiter, not the system. Durability settings are untouched.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, FREE_PORTS, type TestDatabase } from '@im-mesh/platform/testing';
import { startServiceProcess, type ServiceProcess } from '../../tests/support/service-process.js';

export type SystemMode = 'embedded' | 'split';

export interface SystemOptions {
  mode: SystemMode;
  /** Split mode: core instances and connect nodes. Default 2 each. */
  cores?: number;
  connectNodes?: number;
  /** Write V8 CPU profiles of the server processes into this directory (on a clean stop). */
  cpuProfileDir?: string;
  /** Embedded mode: write a sampling profile of every allocation, garbage included, into this file (on a clean stop). */
  allocationProfileFile?: string;
}

export interface SystemUnderTest {
  readonly mode: SystemMode;
  /** The edge's http:// address: every unary call (login, send, sync) goes there. */
  readonly edgeUrl: string;
  /** The edge's ws:// endpoint, the public path of a long connection. */
  readonly edgeWsUrl: string;
  /** Each connect node's own ws:// endpoint (large connection counts dial these, see connections.ts). */
  readonly connectWsUrls: string[];
  /** The PostgreSQL the system writes to (the baseline measures the same server). */
  readonly databaseUrl: string;
  /** Pids whose memory a scenario reads: the process holding the connect node(s). */
  readonly connectPids: number[];
  /** Every server pid, for the report. */
  readonly serverPids: Record<string, number>;
  /** Where the server's warnings and errors go (embedded mode), for a post-mortem. */
  readonly logFile: string | undefined;
  /** Why the system is not running any more, if it died during the run. */
  failure(): string | undefined;
  stop(): Promise<void>;
}

const repoRoot = resolve(import.meta.dirname, '../..');

/** Limits raised for a load that comes from eight loopback addresses (see the header). */
export const BENCH_LIMITS: Record<string, string> = {
  EDGE_RATE_LIMIT_PER_IP: '1000000',
  EDGE_RATE_LIMIT_PER_IP_BURST: '1000000',
  EDGE_RATE_LIMIT_PER_USER: '100000',
  EDGE_RATE_LIMIT_PER_USER_BURST: '100000',
  EDGE_MAX_CONNECTIONS_PER_IP: '100000',
  AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: '1000000/1',
  AUTH_LOGIN_LIMIT_PER_ACCOUNT: '1000000/1',
  AUTH_LOGIN_LIMIT_PER_ADDRESS: '1000000/1',
  AUTH_REGISTER_LIMIT_PER_ADDRESS: '1000000/1',
};

export async function startSystem(options: SystemOptions): Promise<SystemUnderTest> {
  return options.mode === 'embedded' ? startEmbedded(options) : startSplit(options);
}

/** Node flags that write a CPU profile of the process into `<cpuProfileDir>/<label>` when it exits cleanly. */
function profileFlags(options: SystemOptions, label: string): string[] {
  if (options.cpuProfileDir === undefined) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfileDir, label)}`];
}

async function startEmbedded(options: SystemOptions): Promise<SystemUnderTest> {
  // A fresh data directory per run, so every run starts from an empty database.
  const varDir = mkdtempSync(join(tmpdir(), 'im-bench-'));
  // mkdtemp makes it 0700; run as root, the embedded PostgreSQL runs as the OS user postgres and must reach its data dir.
  chmodSync(varDir, 0o755);
  const child = spawn(process.execPath, [...profileFlags(options, 'all-in-one'), '--import', 'tsx', 'bench/harness/embedded-server.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      IM_VAR_DIR: varDir,
      ...FREE_PORTS,
      ...BENCH_LIMITS,
      ...(options.allocationProfileFile !== undefined && { BENCH_ALLOCATION_PROFILE: options.allocationProfileFile }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  const logFile = join(tmpdir(), `im-bench-server-${process.pid}.log`);
  const log = createWriteStream(logFile);
  child.stderr!.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString('utf8')).slice(-20_000);
    log.write(chunk);
  });
  let stopping = false;
  let died: string | undefined;
  const exited = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      if (!stopping) died = `the all-in-one exited with ${code ?? signal} during the run; its last output:\n${errors.slice(-4_000)}`;
      log.end();
      done();
    }),
  );
  try {
    const ready = await readReadyLine(child, () => errors, 180_000);
    return {
      mode: 'embedded',
      edgeUrl: ready.edge,
      edgeWsUrl: `${ready.edge.replace(/^http/, 'ws')}/ws`,
      connectWsUrls: [ready.connectWs],
      databaseUrl: ready.databaseUrl,
      connectPids: [ready.pid],
      serverPids: { 'all-in-one': ready.pid },
      logFile,
      failure: () => died,
      async stop() {
        stopping = true;
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(late);
        }
        rmSync(varDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(varDir, { recursive: true, force: true });
    throw error;
  }
}

interface ReadyLine {
  edge: string;
  connectWs: string;
  databaseUrl: string;
  pid: number;
}

function readReadyLine(child: ChildProcess, errors: () => string, timeoutMs: number): Promise<ReadyLine> {
  return new Promise((done, fail) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`The all-in-one did not start within ${timeoutMs} ms:\n${errors()}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        if (!line.includes('"benchReady"')) continue;
        clearTimeout(timer);
        done(JSON.parse(line) as ReadyLine);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`The all-in-one exited with ${code} before it was ready:\n${errors()}`));
    });
  });
}

async function startSplit(options: SystemOptions): Promise<SystemUnderTest> {
  const coreCount = options.cores ?? 2;
  const nodeCount = options.connectNodes ?? 2;
  const run = Math.random().toString(36).slice(2, 8);
  const started: ServiceProcess[] = [];
  let database: TestDatabase | undefined;
  const stop = async (): Promise<void> => {
    // Front to back, so nothing calls a service that is already gone.
    for (const prefix of ['edge', 'connect', 'core', 'auth']) {
      await Promise.all(started.filter((process) => process.name.startsWith(prefix)).map((process) => process.stopWithin(15_000)));
    }
    await database?.drop();
  };
  // Node refuses --cpu-prof in NODE_OPTIONS, and the service launcher (tests/support) takes no node flags.
  if (options.cpuProfileDir !== undefined) throw new Error('--cpu-prof works in embedded mode only (the split launcher takes no node flags).');
  if (options.allocationProfileFile !== undefined) throw new Error('--allocation-prof works in embedded mode only.');
  const spawnService = async (service: 'auth' | 'core' | 'connect' | 'edge', env: Record<string, string>, label: string) => {
    const process = await startServiceProcess(service, env, label);
    started.push(process);
    return process;
  };
  try {
    database = await createTestDatabase('bench');
    const shared = {
      DATABASE_URL: database.url,
      PRESENCE: 'redis',
      BUS: 'rabbitmq',
      LIMITS: 'redis',
      ...FREE_PORTS,
      ...BENCH_LIMITS,
    };
    const auth = await spawnService('auth', shared, 'auth');
    const withAuth = { ...shared, AUTH_ADDRESS: auth.grpcAddress };
    const cores = await Promise.all(Array.from({ length: coreCount }, (_, i) => spawnService('core', withAuth, `core-${i + 1}`)));
    const connects = await Promise.all(
      Array.from({ length: nodeCount }, (_, i) =>
        spawnService(
          'connect',
          { ...withAuth, CORE_ADDRESS: cores[i % coreCount]!.grpcAddress, CONNECT_NODE_ID: `bench-${run}-node-${i + 1}` },
          `connect-${i + 1}`,
        ),
      ),
    );
    const edge = await spawnService(
      'edge',
      {
        ...withAuth,
        CORE_ADDRESS: cores.map((core) => core.grpcAddress).join(','),
        CONNECT_ADDRESS: connects.map((node) => node.grpcAddress).join(','),
        CONNECT_WS_ADDRESS: connects.map((node) => node.httpAddress).join(','),
      },
      'edge',
    );
    const pids: Record<string, number> = {};
    for (const process of started) pids[process.name] = process.child.pid!;
    return {
      mode: 'split',
      edgeUrl: `http://${edge.grpcAddress}`,
      edgeWsUrl: `ws://${edge.grpcAddress}/ws`,
      connectWsUrls: connects.map((node) => `ws://${node.httpAddress}/ws`),
      databaseUrl: database.url,
      connectPids: connects.map((node) => node.child.pid!),
      serverPids: pids,
      logFile: undefined,
      failure: () => {
        const dead = started.filter((process) => process.child.exitCode !== null || process.child.signalCode !== null);
        return dead.length === 0 ? undefined : dead.map((process) => `${process.name} exited; its last output:\n${process.output().slice(-4_000)}`).join('\n');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
