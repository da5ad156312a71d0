// The users and devices of a fault test. Each device logs in through the edge,
// does its unary calls (send, sync, pull) through the edge, and holds its long
// WebSocket connection through a FaultProxy of its own whose upstreams are the
// connect nodes, its home node first. ImClient dials one fixed webSocketUrl; the
// proxy is the "next live node" switch: a reconnect after its node died lands on
// the next node that accepts, the way a client behind a load balancer does.
import { AuthClient, ImClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import { randomBytes } from 'node:crypto';
import { FaultProxy } from './fault-proxy.js';
import type { History, TrackedDevice } from './history.js';
import type { SplitSystem } from './split-system.js';

export interface FleetDevice extends TrackedDevice {
  readonly auth: AuthClient;
  readonly proxy: FaultProxy;
  /** Index of the connect node it connects to first. */
  readonly home: number;
}

export interface FleetUser {
  readonly name: string;
  readonly userId: string;
  /** So a scenario can log in one more device of this user. */
  readonly password: string;
  readonly devices: FleetDevice[];
}

export interface FleetOptions {
  users: number;
  devicesPerUser: number;
}

/** Shorter deadlines and backoff than the SDK defaults, so a fault test stays within its time. */
const CLIENT_TUNING = {
  call: { timeoutMs: 3_000, attempts: 4, retryDelayMs: 250 },
  reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
} as const;

export class Fleet {
  readonly users: FleetUser[] = [];
  readonly devices = new Map<string, FleetDevice>();
  private readonly down = new Set<number>();

  private constructor(private readonly system: SplitSystem) {}

  /** Registers the users, logs every device in and connects it (recorded in `history`). */
  static async start(system: SplitSystem, history: History, options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(system);
    try {
      for (let u = 0; u < options.users; u += 1) {
        const name = `u${u}_${system.run}`;
        const password = `pw-${randomBytes(8).toString('hex')}`;
        const registrar = new AuthClient({ baseUrl: system.edgeUrl, platform: nodePlatform, rpc: 'grpc' });
        const userId = await registrar.register(name, password, `${name}-setup`);
        registrar.close();
        const devices = await Promise.all(
          Array.from({ length: options.devicesPerUser }, (_, d) => fleet.device(history, name, password, userId, `u${u}-d${d}`, (u + d) % system.connects.length)),
        );
        fleet.users.push({ name, userId, password, devices });
      }
    } catch (error) {
      await fleet.close();
      throw error;
    }
    return fleet;
  }

  private async device(history: History, username: string, password: string, userId: string, name: string, home: number): Promise<FleetDevice> {
    const auth = new AuthClient({ baseUrl: this.system.edgeUrl, platform: nodePlatform, rpc: 'grpc' });
    await auth.login(username, password, name, 'fault-test');
    const proxy = await FaultProxy.start({ name: `${name} socket`, targets: this.nodeTargets(home) });
    const client = new ImClient({
      baseUrl: this.system.edgeUrl,
      webSocketUrl: `ws://${proxy.address}/ws`,
      tokens: auth,
      transport: 'websocket',
      platform: nodePlatform,
      rpc: 'grpc',
      ...CLIENT_TUNING,
    });
    const device: FleetDevice = { name, userId, client, auth, proxy, home };
    this.devices.set(name, device);
    history.track(device);
    await client.connect();
    return device;
  }

  /** The connect nodes' WebSocket addresses, starting at `home`, without the ones marked down. */
  private nodeTargets(home: number): string[] {
    const nodes = this.system.connects;
    return nodes
      .map((_, i) => (home + i) % nodes.length)
      .filter((i) => !this.down.has(i))
      .map((i) => nodes[i]!.httpAddress);
  }

  /**
   * Takes node `index` out of every device's upstream list, as a load balancer's
   * health check would: needed when the node still accepts TCP (SIGSTOP), not
   * when it is dead (a refused dial falls through to the next node anyway).
   */
  markNodeDown(index: number): void {
    this.down.add(index);
    for (const device of this.devices.values()) device.proxy.setTargets(this.nodeTargets(device.home));
  }

  /** Devices whose live connection goes to node `index` right now. */
  devicesOn(index: number): FleetDevice[] {
    const address = this.system.connects[index]!.httpAddress;
    return [...this.devices.values()].filter((device) => device.proxy.liveTargets().includes(address));
  }

  /** Every device is connected (not reconnecting). */
  allConnected(): boolean {
    return [...this.devices.values()].every((device) => device.client.state === 'connected');
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.devices.values()].map(async (device) => {
        await device.client.close(500);
        device.auth.close();
        await device.proxy.close();
      }),
    );
  }
}
