// A small fake of the documented Consul HTTP API endpoints the Consul adapters
// use, for tests on machines where no Consul binary can run:
//   PUT    /v1/agent/service/register          (PascalCase body, Check or Checks)
//   PUT    /v1/agent/service/deregister/:id    (unknown id: no-op, as documented)
//   GET    /v1/health/service/:name[?passing]  blocking
//   GET    /v1/kv/:key[?recurse]               blocking, 404 when nothing matches
//   PUT    /v1/kv/:key   DELETE /v1/kv/:key[?recurse]
// Blocking queries follow Consul's "Blocking Queries" page: every answer carries
// X-Consul-Index; a request with `index` > 0 hangs until the index of what it
// reads moves past it or `wait` (default 5 min, at most 10 min) runs out.
// The fake runs no health checks: a registered check keeps its initial Status
// (critical when none is given, as in Consul) until a test calls
// setCheckStatus, standing in for the agent's prober.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type CheckStatus = 'passing' | 'warning' | 'critical';

/** One request the fake answered, for tests that assert how clients behave. */
export interface FakeConsulRequest {
  method: string;
  path: string;
  /** The `index` query parameter, 0 when absent (a non-blocking read). */
  index: number;
  /** What ended it: answered at once, woken by a change, the wait ran out, or the client went away. */
  outcome: 'immediate' | 'changed' | 'timed-out' | 'aborted';
  startedAt: number;
  endedAt: number;
}

interface ServiceEntry {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  checks: Array<{ CheckID: string; Name: string; Status: CheckStatus; Type: string }>;
}

interface KvEntry {
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
}

interface State {
  /** The Raft-like index: every write takes the next one. */
  index: number;
  services: Map<string, ServiceEntry>;
  /** Service name -> index of the last write that changed its instances or checks. */
  serviceIndex: Map<string, number>;
  kv: Map<string, KvEntry>;
  /** Deleted key -> index of its deletion, so a prefix's index never goes back. */
  tombstones: Map<string, number>;
}

const NODE = { ID: '00000000-0000-0000-0000-000000000001', Node: 'fake-node', Address: '127.0.0.1', Datacenter: 'dc1' };

export class FakeConsul {
  /** Every payload received by /agent/service/register, by service id, exactly as sent. */
  readonly registrations = new Map<string, Record<string, unknown>>();
  readonly requests: FakeConsulRequest[] = [];
  private state = freshState();
  private readonly waiters = new Set<() => void>();
  private server: Server | undefined;
  private port = 0;

  /** Starts on a free port (or `port`). */
  static async start(port = 0): Promise<FakeConsul> {
    const fake = new FakeConsul();
    await fake.listen(port);
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Blocking queries hanging right now. */
  get blockingInFlight(): number {
    return this.waiters.size;
  }

  /** Stops answering; connections (and blocking queries in flight) are cut, as when an agent dies. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.close();
    server.closeAllConnections();
    for (const wake of [...this.waiters]) wake();
    await once(server, 'close');
  }

  /** Stops, then listens again on the same port; without `keepState` it forgets everything (a dev-mode agent). */
  async restart(options: { keepState?: boolean } = {}): Promise<void> {
    await this.stop();
    if (!options.keepState) this.state = freshState();
    await this.listen(this.port);
  }

  /** Sets every check of a service instance, as the agent's prober would. */
  setCheckStatus(serviceId: string, status: CheckStatus): void {
    const service = this.state.services.get(serviceId);
    if (!service) throw new Error(`the fake has no service instance ${serviceId}`);
    for (const check of service.checks) check.Status = status;
    this.touchService(service.name);
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) reply(response, 500, 'text/plain', String(error), undefined);
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = decodeURIComponent(url.pathname);
    const method = request.method ?? 'GET';
    const body = await readBody(request);
    const startedAt = Date.now();
    const record = (index: number, outcome: FakeConsulRequest['outcome']): void => {
      this.requests.push({ method, path, index, outcome, startedAt, endedAt: Date.now() });
    };

    if (method === 'PUT' && path === '/v1/agent/service/register') {
      const problem = this.register(body);
      record(0, 'immediate');
      return problem ? reply(response, 400, 'text/plain', problem, undefined) : reply(response, 200, 'application/json', '', undefined);
    }
    const deregister = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(path);
    if (method === 'PUT' && deregister) {
      const service = this.state.services.get(deregister[1]!);
      if (service) {
        this.state.services.delete(service.id);
        this.touchService(service.name);
      }
      record(0, 'immediate');
      return reply(response, 200, 'application/json', '', undefined);
    }
    const health = /^\/v1\/health\/service\/(.+)$/.exec(path);
    if (method === 'GET' && health) {
      const name = health[1]!;
      const passingOnly = url.searchParams.has('passing') && !['false', '0'].includes(url.searchParams.get('passing')!);
      const { index, outcome } = await this.block(request, url, () => this.state.serviceIndex.get(name) ?? 1);
      record(Number(url.searchParams.get('index') ?? 0), outcome);
      const entries = this.healthOf(name, passingOnly);
      return reply(response, 200, 'application/json', JSON.stringify(entries), index);
    }
    const kv = /^\/v1\/kv\/(.*)$/.exec(path);
    if (kv) return this.handleKv(method, kv[1]!, url, request, response, body, record);
    record(0, 'immediate');
    return reply(response, 404, 'text/plain', `the fake Consul does not implement ${method} ${path}`, undefined);
  }

  private async handleKv(
    method: string,
    key: string,
    url: URL,
    request: IncomingMessage,
    response: ServerResponse,
    body: Buffer,
    record: (index: number, outcome: FakeConsulRequest['outcome']) => void,
  ): Promise<void> {
    const recurse = url.searchParams.has('recurse');
    const matches = (candidate: string): boolean => (recurse ? candidate.startsWith(key) : candidate === key);
    if (method === 'GET') {
      const { index, outcome } = await this.block(request, url, () => this.kvIndex(matches));
      record(Number(url.searchParams.get('index') ?? 0), outcome);
      const items = [...this.state.kv.entries()]
        .filter(([candidate]) => matches(candidate))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([candidate, entry]) => ({
          LockIndex: 0,
          Key: candidate,
          Flags: entry.flags,
          Value: entry.value.length > 0 ? entry.value.toString('base64') : null,
          CreateIndex: entry.createIndex,
          ModifyIndex: entry.modifyIndex,
        }));
      if (items.length === 0) return reply(response, 404, 'text/plain', '', index);
      return reply(response, 200, 'application/json', JSON.stringify(items), index);
    }
    record(0, 'immediate');
    if (method === 'PUT') {
      const index = this.nextIndex();
      const existing = this.state.kv.get(key);
      this.state.kv.set(key, {
        value: body,
        flags: Number(url.searchParams.get('flags') ?? existing?.flags ?? 0),
        createIndex: existing?.createIndex ?? index,
        modifyIndex: index,
      });
      this.state.tombstones.delete(key);
      this.wakeAll();
      return reply(response, 200, 'application/json', 'true', undefined);
    }
    if (method === 'DELETE') {
      const doomed = [...this.state.kv.keys()].filter(matches);
      if (doomed.length > 0) {
        const index = this.nextIndex();
        for (const candidate of doomed) {
          this.state.kv.delete(candidate);
          this.state.tombstones.set(candidate, index);
        }
        this.wakeAll();
      }
      return reply(response, 200, 'application/json', 'true', undefined);
    }
    return reply(response, 405, 'text/plain', `method ${method} not allowed`, undefined);
  }

  /** Validates and stores a registration; returns the 400 message when Consul would refuse it. */
  private register(body: Buffer): string | undefined {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return 'Request decode failed: invalid JSON';
    }
    const name = payload.Name;
    if (typeof name !== 'string' || name === '') return 'Missing service name';
    const id = typeof payload.ID === 'string' && payload.ID !== '' ? payload.ID : name;
    const definitions = [...(payload.Check ? [payload.Check] : []), ...(Array.isArray(payload.Checks) ? payload.Checks : [])] as Array<
      Record<string, unknown>
    >;
    const checks: ServiceEntry['checks'] = [];
    for (const [position, check] of definitions.entries()) {
      const probe = ['GRPC', 'HTTP', 'TCP', 'UDP', 'H2PING', 'Args', 'Script'].find((field) => check[field]);
      const type = probe && check.Interval ? probe.toLowerCase() : check.TTL ? 'ttl' : check.AliasService || check.AliasNode ? 'alias' : undefined;
      if (!type) return 'Invalid check: TTL must be > 0 for TTL checks, or an Interval is required with a script, HTTP, TCP, UDP, gRPC or H2 ping';
      const status = check.Status ?? 'critical';
      if (status !== 'passing' && status !== 'warning' && status !== 'critical') return `Invalid check status: "${String(status)}"`;
      const suffix = definitions.length > 1 ? `:${position + 1}` : '';
      checks.push({
        CheckID: typeof check.CheckID === 'string' ? check.CheckID : `service:${id}${suffix}`,
        Name: typeof check.Name === 'string' ? check.Name : `Service '${name}' check`,
        Status: status,
        Type: type,
      });
    }
    const previous = this.state.services.get(id);
    this.state.services.set(id, {
      id,
      name,
      address: typeof payload.Address === 'string' ? payload.Address : '',
      port: typeof payload.Port === 'number' ? payload.Port : 0,
      tags: Array.isArray(payload.Tags) ? (payload.Tags as string[]) : [],
      meta: (payload.Meta as Record<string, string> | undefined) ?? {},
      checks,
    });
    this.registrations.set(id, payload);
    if (previous && previous.name !== name) this.touchService(previous.name);
    this.touchService(name);
    return undefined;
  }

  private healthOf(name: string, passingOnly: boolean): unknown[] {
    return [...this.state.services.values()]
      .filter((service) => service.name === name)
      .filter((service) => !passingOnly || service.checks.every((check) => check.Status === 'passing'))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((service) => ({
        Node: NODE,
        Service: { ID: service.id, Service: service.name, Tags: service.tags, Meta: service.meta, Address: service.address, Port: service.port },
        Checks: [
          { Node: NODE.Node, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', ServiceID: '', ServiceName: '' },
          ...service.checks.map((check) => ({ Node: NODE.Node, ...check, ServiceID: service.id, ServiceName: service.name })),
        ],
      }));
  }

  /**
   * Holds a read while its index is not past the requested one, up to `wait`.
   * Returns the index to answer with and why the hold ended.
   */
  private async block(
    request: IncomingMessage,
    url: URL,
    indexOf: () => number,
  ): Promise<{ index: number; outcome: FakeConsulRequest['outcome'] }> {
    const requested = Number(url.searchParams.get('index') ?? 0);
    if (!(requested > 0) || indexOf() > requested) return { index: indexOf(), outcome: 'immediate' };
    const waitMs = Math.min(parseDuration(url.searchParams.get('wait')) ?? 5 * 60_000, 10 * 60_000);
    const outcome = await new Promise<FakeConsulRequest['outcome']>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (why: FakeConsulRequest['outcome']): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        request.socket.off('close', onClose);
        resolve(why);
      };
      const check = (): void => {
        if (!this.server) finish('aborted');
        else if (indexOf() > requested) finish('changed');
      };
      const onClose = (): void => finish('aborted');
      this.waiters.add(check);
      request.socket.once('close', onClose);
      timer = setTimeout(() => finish('timed-out'), waitMs);
    });
    return { index: indexOf(), outcome };
  }

  private kvIndex(matches: (key: string) => boolean): number {
    let index = 1;
    for (const [key, entry] of this.state.kv) if (matches(key)) index = Math.max(index, entry.modifyIndex);
    for (const [key, deletedAt] of this.state.tombstones) if (matches(key)) index = Math.max(index, deletedAt);
    return index;
  }

  private nextIndex(): number {
    this.state.index += 1;
    return this.state.index;
  }

  private touchService(name: string): void {
    this.state.serviceIndex.set(name, this.nextIndex());
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

function freshState(): State {
  return { index: 1, services: new Map(), serviceIndex: new Map(), kv: new Map(), tombstones: new Map() };
}

function reply(response: ServerResponse, statusCode: number, contentType: string, body: string, index: number | undefined): void {
  if (response.destroyed) return;
  const headers: Record<string, string> = { 'Content-Type': contentType };
  if (index !== undefined) {
    headers['X-Consul-Index'] = String(index);
    headers['X-Consul-KnownLeader'] = 'true';
    headers['X-Consul-LastContact'] = '0';
  }
  response.writeHead(statusCode, headers);
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Go-style durations as Consul accepts them: "10s", "1500ms", "5m", "1m30s". */
function parseDuration(text: string | null): number | undefined {
  if (!text) return undefined;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const part = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!part) return undefined;
    total += Number(part[1]) * units[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return total;
}
