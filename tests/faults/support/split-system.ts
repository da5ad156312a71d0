// The distributed system of a fault test, each service its own process as in
// tests/distributed/multi-node.test.ts: auth, two cores, 2-3 connect nodes and
// an edge, on real PostgreSQL (a fresh database), Redis and RabbitMQ.
//
// What the fault tests add in between, all FaultProxy instances on loopback:
// - a stable address per core (a "front"), so a restarted core, which binds a
//   new port, is found where the old one was; the edge gets both fronts as its
//   CORE_ADDRESS list and spreads calls over them (opening a circuit on a dead
//   one), as it would with a registry;
// - a core balancer for the connect nodes (whose CORE_ADDRESS is one address):
//   it hands each new connection to the first core that accepts, as a
//   health-checked load balancer would, so a killed core's callers reconnect
//   to the other one;
// - optionally a proxy between the cores and RabbitMQ and one between the
//   connect nodes and RabbitMQ, so the broker can be made unreachable or its
//   confirms blackholed without touching the shared broker; likewise for Redis.
import { randomBytes } from 'node:crypto';
import { createTestDatabase, FREE_PORTS, type TestDatabase } from '@im-mesh/platform/testing';
import { startServiceProcess, type ServiceName, type ServiceProcess } from '../../support/service-process.js';
import { FaultProxy } from './fault-proxy.js';
import { requireSharedServers } from './shared-servers.js';

export const BROKER_ADDRESS = '127.0.0.1:5672';
export const REDIS_ADDRESS = '127.0.0.1:6379';

export interface SplitSystemOptions {
  /** Names the database and the connect nodes' queues. */
  label: string;
  /** Connect nodes, 2 or 3. Default 3. */
  connectNodes?: number;
  /** Route the cores' and/or the connect nodes' AMQP connections through a FaultProxy. */
  brokerProxy?: { cores?: boolean; connects?: boolean };
  /** Route every service's Redis connection through a FaultProxy (`redisProxy`). */
  redisProxy?: boolean;
  /** Route the cores' PostgreSQL connections (DATABASE_URL) through a FaultProxy (`coreDatabaseProxy`); auth dials PostgreSQL directly. */
  coreDatabaseProxy?: boolean;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for the first start of core 0 or 1 only (e.g. IM_CRASH_POINT); restarts go without it. */
  firstCoreEnv?: Partial<Record<0 | 1, Record<string, string>>>;
}

export class SplitSystem {
  /** Unique per run: connect node ids and user names carry it. */
  readonly run = randomBytes(3).toString('hex');
  auth!: ServiceProcess;
  cores: ServiceProcess[] = [];
  connects: ServiceProcess[] = [];
  edge!: ServiceProcess;
  coreBalancer!: FaultProxy;
  /** One stable address per core index (see above). */
  coreFronts: FaultProxy[] = [];
  coreBrokerProxy: FaultProxy | undefined;
  connectBrokerProxy: FaultProxy | undefined;
  redisProxy: FaultProxy | undefined;
  coreDatabaseProxy: FaultProxy | undefined;
  private database: TestDatabase | undefined;
  private shared: Record<string, string> = {};
  private coreEnv: Record<string, string> = {};
  private edgeEnv: Record<string, string> = {};
  /** Every process ever started, so a failed start or a restart leaves nothing running. */
  private readonly all: ServiceProcess[] = [];
  private coreCount = 0;

  private constructor(readonly options: SplitSystemOptions) {}

  static async start(options: SplitSystemOptions): Promise<SplitSystem> {
    const system = new SplitSystem(options);
    try {
      await system.boot();
    } catch (error) {
      await system.stop();
      throw error;
    }
    return system;
  }

  get edgeUrl(): string {
    return `http://${this.edge.grpcAddress}`;
  }

  /** The run's database (auth's and core's tables), for scenarios that check stored state. */
  get databaseUrl(): string {
    if (!this.database) throw new Error('the system has no database yet');
    return this.database.url;
  }

  nodeId(index: number): string {
    return `fault-${this.run}-node-${index + 1}`;
  }

  private async boot(): Promise<void> {
    const { label, env = {} } = this.options;
    await requireSharedServers();
    this.database = await createTestDatabase(`fault_${label}`);
    this.coreBalancer = await FaultProxy.start({ name: 'core balancer', targets: [] });
    this.coreFronts = await Promise.all([0, 1].map((i) => FaultProxy.start({ name: `core ${i + 1} front`, targets: [] })));
    const amqpUrl = (proxy: FaultProxy | undefined) =>
      // A short AMQP heartbeat so a blackholed broker is noticed in seconds.
      proxy ? `amqp://guest:guest@${proxy.address}?heartbeat=3` : `amqp://guest:guest@${BROKER_ADDRESS}`;
    if (this.options.brokerProxy?.cores) this.coreBrokerProxy = await FaultProxy.start({ name: 'core broker', targets: [BROKER_ADDRESS] });
    if (this.options.brokerProxy?.connects) {
      this.connectBrokerProxy = await FaultProxy.start({ name: 'connect broker', targets: [BROKER_ADDRESS] });
    }
    if (this.options.redisProxy) this.redisProxy = await FaultProxy.start({ name: 'redis', targets: [REDIS_ADDRESS] });
    this.shared = {
      DATABASE_URL: this.database.url,
      ...(this.redisProxy ? { REDIS_URL: `redis://${this.redisProxy.address}` } : {}),
      PRESENCE: 'redis',
      BUS: 'rabbitmq',
      LIMITS: 'redis',
      ...FREE_PORTS,
      CONNECT_HEARTBEAT_INTERVAL_MS: '2000',
      CORE_OUTBOX_POLL_MS: '500',
      // Every test client comes from 127.0.0.1: the per-IP limits are for the internet, not this storm.
      EDGE_RATE_LIMIT_PER_IP: '100000',
      EDGE_RATE_LIMIT_PER_IP_BURST: '100000',
      EDGE_RATE_LIMIT_PER_USER: '10000',
      EDGE_RATE_LIMIT_PER_USER_BURST: '10000',
      // Likewise every login and registration comes from loopback.
      AUTH_LOGIN_LIMIT_PER_ADDRESS: '1000000/3600',
      ...env,
    };
    this.auth = await this.spawn('auth', this.shared);
    const withAuth = { ...this.shared, AUTH_ADDRESS: this.auth.grpcAddress };
    this.coreEnv = { ...withAuth, RABBITMQ_URL: amqpUrl(this.coreBrokerProxy) };
    if (this.options.coreDatabaseProxy) {
      const url = new URL(this.database.url);
      this.coreDatabaseProxy = await FaultProxy.start({ name: 'core database', targets: [url.host] });
      url.host = this.coreDatabaseProxy.address;
      this.coreEnv.DATABASE_URL = url.toString();
    }
    const nodeCount = this.options.connectNodes ?? 3;
    // Connect nodes dial core through the balancer, so they need not wait for the cores.
    // Settled, not Promise.all: a failed start must not leave a sibling starting unseen.
    const [cores, connects] = await Promise.allSettled([
      settleAll([this.startCore(this.options.firstCoreEnv?.[0]), this.startCore(this.options.firstCoreEnv?.[1])]),
      settleAll(
        Array.from({ length: nodeCount }, (_, i) =>
          this.spawn(
            'connect',
            { ...withAuth, CORE_ADDRESS: this.coreBalancer.address, CONNECT_NODE_ID: this.nodeId(i), RABBITMQ_URL: amqpUrl(this.connectBrokerProxy) },
            `connect-${i + 1}`,
          ),
        ),
      ),
    ]);
    if (cores.status === 'rejected') throw cores.reason;
    if (connects.status === 'rejected') throw connects.reason;
    this.cores = cores.value;
    this.connects = connects.value;
    this.balanceCores();
    // The edge's own connect upstream is the last node; the tests' devices dial nodes directly.
    const last = this.connects[nodeCount - 1]!;
    this.edgeEnv = {
      ...withAuth,
      CORE_ADDRESS: this.coreFronts.map((front) => front.address).join(','),
      CONNECT_ADDRESS: last.grpcAddress,
      CONNECT_WS_ADDRESS: last.httpAddress,
    };
    this.edge = await this.spawn('edge', this.edgeEnv);
  }

  /** SIGKILLs the edge (clients' unary calls then fail until it is back). */
  async killEdge(): Promise<void> {
    await this.edge.kill();
  }

  /**
   * Starts one more edge process with the first one's settings, `env` laid over
   * them (e.g. other upstreams, or EDGE_PORT to take over a dead edge's port); it
   * is stopped with the rest.
   */
  startExtraEdge(label: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    return this.spawn('edge', { ...this.edgeEnv, ...env }, label);
  }

  /** Starts a new edge process on the port the old one had, so clients find it at the same address. */
  async restartEdge(): Promise<void> {
    const port = this.edge.grpcAddress.slice(this.edge.grpcAddress.lastIndexOf(':') + 1);
    this.edge = await this.spawn('edge', { ...this.edgeEnv, EDGE_PORT: port }, 'edge-2');
  }

  private async spawn(service: ServiceName, env: Record<string, string>, label?: string): Promise<ServiceProcess> {
    const process = await startServiceProcess(service, env, label);
    this.all.push(process);
    return process;
  }

  private startCore(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    this.coreCount += 1;
    return this.spawn('core', { ...this.coreEnv, ...extraEnv }, `core-${this.coreCount}`);
  }

  /** Points the balancer at the live cores, in order (the first one takes new connections), and each front at its core. */
  balanceCores(): void {
    const alive = (core: ServiceProcess) => core.child.exitCode === null && core.child.signalCode === null;
    this.coreBalancer.setTargets(this.cores.filter(alive).map((core) => core.grpcAddress));
    this.cores.forEach((core, i) => this.coreFronts[i]?.setTargets(alive(core) ? [core.grpcAddress] : []));
  }

  /** The core that new connections from connect nodes go to now. */
  get preferredCore(): ServiceProcess {
    const live = this.cores.find((core) => core.child.exitCode === null && core.child.signalCode === null);
    if (!live) throw new Error('no core is running');
    return live;
  }

  /** SIGKILLs core `index`; the balancer sends new connections to the others, its front refuses. */
  async killCore(index: number): Promise<void> {
    const core = this.cores[index]!;
    await core.kill();
    this.balanceCores();
  }

  /** Starts a new core process in place of core `index` (same configuration, new port). */
  async restartCore(index: number): Promise<void> {
    this.cores[index] = await this.startCore();
    this.balanceCores();
  }

  /**
   * Sums a Prometheus counter or gauge over the running cores' /metrics (series
   * whose labels contain `labels`, e.g. 'outcome="failed"'); evidence that a fault bit.
   */
  async coreMetric(name: string, labels = ''): Promise<number> {
    let total = 0;
    for (const core of this.cores.filter((process) => process.child.exitCode === null && process.child.signalCode === null)) {
      const text = await (await fetch(`http://${core.httpAddress}/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (labels !== '' && !line.includes(labels)) continue;
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }

  /** The output of every process, for a failure message. */
  outputs(): string {
    return this.all.map((process) => `--- ${process.name}\n${process.output()}`).join('\n');
  }

  /**
   * Stops everything that runs (SIGTERM, SIGKILL after 10 s), closes the proxies,
   * drops the database. Resolves with each process's exit code (null: it had to
   * be killed) and how long it took to stop, for the ones the test did not kill.
   */
  async stop(): Promise<Record<string, { code: number | null; ms: number }>> {
    const codes: Record<string, { code: number | null; ms: number }> = {};
    const stopAll = async (processes: ServiceProcess[]) => {
      await Promise.all(
        processes.map(async (process) => {
          const killed = process.child.signalCode === 'SIGKILL';
          const started = Date.now();
          const code = await process.stopWithin(10_000);
          if (!killed) codes[process.name] = { code, ms: Date.now() - started };
        }),
      );
    };
    // Front to back, so nothing is left calling a service that is already gone.
    for (const prefix of ['edge', 'connect', 'core', 'auth']) await stopAll(this.all.filter((process) => process.name.startsWith(prefix)));
    await Promise.all([this.coreBalancer, ...this.coreFronts, this.coreBrokerProxy, this.connectBrokerProxy, this.redisProxy, this.coreDatabaseProxy].map((proxy) => proxy?.close()));
    await this.database?.drop();
    return codes;
  }
}

/** Like Promise.all, but rejects only after every start settled (so each started process is tracked). */
async function settleAll(starts: Array<Promise<ServiceProcess>>): Promise<ServiceProcess[]> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<ServiceProcess>).value);
}
