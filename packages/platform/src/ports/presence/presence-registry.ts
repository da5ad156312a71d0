// PresenceRegistry: which connect node holds each live device connection.
//
// Contract (every adapter passes presence-registry.contract.ts):
// - A route is per device: user -> { device -> (node, connection, epoch) }. A
//   device has at most one route; a newer connection of the same device replaces
//   the older one.
// - `epoch` orders routes of one device. `register` succeeds only when the given
//   epoch is greater than the stored one, or nothing is stored: a stale or paused
//   node can never overwrite a newer route (compare-and-set). Connect nodes use
//   the connection's start time in milliseconds, which is unique enough per device.
// - Routes expire `ttlSeconds` after the last successful `register` or `refresh`;
//   heartbeats refresh them. `refresh` and `unregister` act only if the stored
//   route still names the same connection, so a late heartbeat or close from an
//   old connection cannot touch its successor.
// - `routesOf` returns only unexpired routes.

export interface DeviceRoute {
  userId: string;
  deviceId: string;
  nodeId: string;
  connectionId: string;
  /** Orders routes of one device; greater wins. */
  epoch: number;
}

export interface PresenceRegistry {
  /** Stores the route if its epoch beats the stored one; false when it lost. */
  register(route: DeviceRoute, ttlSeconds: number): Promise<boolean>;
  /** Extends the route's life; false when the device now has another connection or none. */
  refresh(userId: string, deviceId: string, connectionId: string, ttlSeconds: number): Promise<boolean>;
  /** Removes the route if it still names this connection. */
  unregister(userId: string, deviceId: string, connectionId: string): Promise<void>;
  /** Live routes of each user; users with none are absent from the map. */
  routesOf(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>>;
  close(): Promise<void>;
}
