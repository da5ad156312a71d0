// In-process PresenceRegistry for the all-in-one: a map per user, expiry checked
// on read and swept periodically so dead routes do not pile up.
import type { DeviceRoute, PresenceRegistry } from './presence-registry.js';

interface Entry {
  route: DeviceRoute;
  expiresAt: number;
}

export class MemoryPresenceRegistry implements PresenceRegistry {
  private readonly users = new Map<string, Map<string, Entry>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now, sweepIntervalMs = 30_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async register(route: DeviceRoute, ttlSeconds: number): Promise<boolean> {
    let devices = this.users.get(route.userId);
    const current = devices?.get(route.deviceId);
    if (current && this.live(current) && current.route.epoch >= route.epoch) return false;
    if (!devices) {
      devices = new Map();
      this.users.set(route.userId, devices);
    }
    devices.set(route.deviceId, { route: { ...route }, expiresAt: this.now() + ttlSeconds * 1000 });
    return true;
  }

  async refresh(userId: string, deviceId: string, connectionId: string, ttlSeconds: number): Promise<boolean> {
    const entry = this.users.get(userId)?.get(deviceId);
    if (!entry || !this.live(entry) || entry.route.connectionId !== connectionId) return false;
    entry.expiresAt = this.now() + ttlSeconds * 1000;
    return true;
  }

  async unregister(userId: string, deviceId: string, connectionId: string): Promise<void> {
    const devices = this.users.get(userId);
    if (devices?.get(deviceId)?.route.connectionId !== connectionId) return;
    devices.delete(deviceId);
    if (devices.size === 0) this.users.delete(userId);
  }

  async routesOf(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    const result = new Map<string, DeviceRoute[]>();
    for (const userId of userIds) {
      const devices = this.users.get(userId);
      if (!devices) continue;
      const routes: DeviceRoute[] = [];
      for (const entry of devices.values()) if (this.live(entry)) routes.push({ ...entry.route });
      if (routes.length > 0) result.set(userId, routes);
    }
    return result;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private live(entry: Entry): boolean {
    return entry.expiresAt > this.now();
  }

  private sweep(): void {
    for (const [userId, devices] of this.users) {
      for (const [deviceId, entry] of devices) if (!this.live(entry)) devices.delete(deviceId);
      if (devices.size === 0) this.users.delete(userId);
    }
  }
}
