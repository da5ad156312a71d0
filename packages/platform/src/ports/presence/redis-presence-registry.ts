// PresenceRegistry in Redis, shared by every connect and core node.
//
// Layout: one hash per user, `<prefix><userId>`, one field per device:
//   <deviceId> -> "<expiresAtMs>|<JSON {nodeId, connectionId, epoch}>"
// Redis 7.0 has no per-field expiry (HPEXPIRE came in 7.4), so each field
// carries its own deadline in Redis server time, and the key's PEXPIREAT is the
// latest deadline of its fields, so a user whose devices all went silent
// vanishes by itself. Every write is a Lua script that reads the server clock,
// so node clocks never matter, and that prunes dead fields of that user.
// One hash per user makes `routesOf` one pipelined HGETALL per user, sent
// together with TIME in a single round trip.
import type { Redis } from 'ioredis';
import { closeRedis, defineRedisScript } from '../redis-connection.js';
import type { DeviceRoute, PresenceRegistry } from './presence-registry.js';

export interface RedisPresenceRegistryOptions {
  /** Prepended to every key. "im:presence:" by default. */
  keyPrefix?: string;
  /** Quit the client on close(); true when the registry was given its own connection. */
  ownsClient?: boolean;
}

/** What a field holds after the deadline: the rest of the route. */
interface StoredRoute {
  nodeId: string;
  connectionId: string;
  epoch: number;
}

// Shared Lua prelude: the server clock in ms, the parts of a field, and the
// pruning pass that drops dead fields and sets the key's expiry to the latest
// live deadline (or deletes the key when none is left).
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function split(value)
  local bar = string.find(value, '|', 1, true)
  return tonumber(string.sub(value, 1, bar - 1)), string.sub(value, bar + 1)
end
local function prune(key, now)
  local fields = redis.call('HGETALL', key)
  local latest = 0
  for i = 1, #fields, 2 do
    local deadline = split(fields[i + 1])
    if deadline <= now then
      redis.call('HDEL', key, fields[i])
    elseif deadline > latest then
      latest = deadline
    end
  end
  if latest > 0 then redis.call('PEXPIREAT', key, string.format('%.0f', latest)) end
end
`;

// KEYS[1] user hash; ARGV: deviceId, epoch, ttlMs, route JSON.
// Returns 1 when stored, 0 when a live route with an equal or newer epoch exists.
const REGISTER = `${PRELUDE}
local now = now_ms()
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local deadline, body = split(current)
  if deadline > now and cjson.decode(body).epoch >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now + tonumber(ARGV[3])) .. '|' .. ARGV[4])
prune(KEYS[1], now)
return 1
`;

// KEYS[1] user hash; ARGV: deviceId, connectionId, ttlMs.
// Returns 1 when the live route of this connection was extended, else 0.
const REFRESH = `${PRELUDE}
local now = now_ms()
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local deadline, body = split(current)
if deadline <= now or cjson.decode(body).connectionId ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now + tonumber(ARGV[3])) .. '|' .. body)
prune(KEYS[1], now)
return 1
`;

// KEYS[1] user hash; ARGV: deviceId, connectionId.
// Removes the route only if it still names this connection; returns 1 if removed.
const UNREGISTER = `${PRELUDE}
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local _, body = split(current)
if cjson.decode(body).connectionId ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
prune(KEYS[1], now_ms())
return 1
`;

export class RedisPresenceRegistry implements PresenceRegistry {
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly registerScript;
  private readonly refreshScript;
  private readonly unregisterScript;

  constructor(private readonly client: Redis, options: RedisPresenceRegistryOptions = {}) {
    this.prefix = options.keyPrefix ?? 'im:presence:';
    this.ownsClient = options.ownsClient ?? false;
    this.registerScript = defineRedisScript<number>(client, 'imPresenceRegister', 1, REGISTER);
    this.refreshScript = defineRedisScript<number>(client, 'imPresenceRefresh', 1, REFRESH);
    this.unregisterScript = defineRedisScript<number>(client, 'imPresenceUnregister', 1, UNREGISTER);
  }

  async register(route: DeviceRoute, ttlSeconds: number): Promise<boolean> {
    if (!Number.isFinite(route.epoch)) throw new RangeError(`presence epoch must be a finite number, got ${route.epoch}`);
    const stored: StoredRoute = { nodeId: route.nodeId, connectionId: route.connectionId, epoch: route.epoch };
    const outcome = await this.registerScript([this.keyOf(route.userId)], [route.deviceId, route.epoch, ttlMs(ttlSeconds), JSON.stringify(stored)]);
    return outcome === 1;
  }

  async refresh(userId: string, deviceId: string, connectionId: string, ttlSeconds: number): Promise<boolean> {
    return (await this.refreshScript([this.keyOf(userId)], [deviceId, connectionId, ttlMs(ttlSeconds)])) === 1;
  }

  async unregister(userId: string, deviceId: string, connectionId: string): Promise<void> {
    await this.unregisterScript([this.keyOf(userId)], [deviceId, connectionId]);
  }

  async routesOf(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    const result = new Map<string, DeviceRoute[]>();
    const unique = [...new Set(userIds)];
    if (unique.length === 0) return result;
    // TIME travels in the same pipeline so deadlines are compared with the
    // clock that wrote them, whatever this node's clock says.
    const pipeline = this.client.pipeline().time();
    for (const userId of unique) pipeline.hgetall(this.keyOf(userId));
    const replies = (await pipeline.exec()) ?? [];
    const [timeError, time] = replies[0] ?? [new Error('no reply to TIME')];
    if (timeError) throw timeError;
    const [seconds, micros] = time as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    unique.forEach((userId, index) => {
      const [error, fields] = replies[index + 1] ?? [new Error('missing reply')];
      if (error) throw error;
      const routes: DeviceRoute[] = [];
      for (const [deviceId, value] of Object.entries(fields as Record<string, string>)) {
        const bar = value.indexOf('|');
        if (Number(value.slice(0, bar)) <= now) continue;
        const stored = JSON.parse(value.slice(bar + 1)) as StoredRoute;
        routes.push({ userId, deviceId, nodeId: stored.nodeId, connectionId: stored.connectionId, epoch: stored.epoch });
      }
      if (routes.length > 0) result.set(userId, routes);
    });
    return result;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeRedis(this.client);
  }

  private keyOf(userId: string): string {
    return `${this.prefix}${userId}`;
  }
}

/** Seconds to whole milliseconds; a TTL must be positive or the route would be born dead. */
function ttlMs(ttlSeconds: number): number {
  const ms = Math.ceil(ttlSeconds * 1000);
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`presence TTL must be a positive number of seconds, got ${ttlSeconds}`);
  return ms;
}
