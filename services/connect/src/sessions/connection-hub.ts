// ConnectionHub: the connections of this node. It turns an authenticated session
// into a routable one (presence route, Authenticated frame), replaces an older
// connection of the same device, keeps heartbeats (idle timeout, presence
// refresh), forgets connections when they close, and drains them all on shutdown.
// It also enforces session ends: a new connection is admitted only if auth says
// its session is live (SessionCheck), a connection ends when its access token
// expires, and auth's revocations (endSessions) close connections at once.
//
// Invariant: a session is findable by connection id only between its presence
// registration and its close, so a push either reaches a connection that has
// already sent Authenticated, or finds nothing (and sync covers it).
import type { AccessTokenClaims, DeviceRoute, Logger, PresenceRegistry } from '@im-mesh/platform';
import { AppError, ErrorCode, uuidv7 } from '@im-mesh/platform';
import type { ConnectMetrics } from '../metrics.js';
import type { ClientSession, SessionEnvironment, SessionIdentity } from './client-session.js';
import type { FrameRate } from './frame-allowance.js';
import { goAwayDraining, goAwayReplaced, goAwayRevoked, goAwayRouteConflict, goAwayRouteLapsed, goAwayTokenExpired } from './go-away.js';
import type { SessionCheck } from './session-check.js';

export interface ConnectionHubOptions {
  nodeId: string;
  heartbeatIntervalMs: number;
  authTimeoutMs: number;
  presence: PresenceRegistry;
  logger: Logger;
  metrics: ConnectMetrics;
  /** The inbound frame budget per connection, read on every frame (a live setting). */
  frameRate: () => FrameRate;
  awaitedPerConnection: number;
  /** Upper bound of the random reconnect delay told to clients on drain, in ms. */
  drainReconnectSpreadMs?: number;
  /**
   * Asks auth whether the token's session may hold a connection (not logged
   * out, revoked or banned). Without it every validly signed token connects.
   */
  sessionCheck?: SessionCheck;
}

/** What auth's SessionRevocation says: whose connections end, which sessions (all when empty), and why. */
export interface EndedSessions {
  userId: string;
  sessionIds: readonly string[];
  reason: string;
  banned: boolean;
}

/** Timers of one open session. */
interface Liveness {
  authDeadline: NodeJS.Timeout | undefined;
  idle: NodeJS.Timeout | undefined;
  /** Fires when the access token the connection authenticated with expires. */
  tokenExpiry: NodeJS.Timeout | undefined;
  /** When presence was last registered or refreshed, in ms since the epoch. */
  presenceTouchedAt: number;
}

let epochSequence = 0;

/**
 * Epochs grow for a device's newer connection: microseconds of wall time plus a
 * per-process counter, so two connections in one millisecond still differ.
 */
function nextEpoch(): number {
  epochSequence = (epochSequence + 1) % 1000;
  return Date.now() * 1000 + epochSequence;
}

export class ConnectionHub {
  readonly sessionEnvironment: SessionEnvironment;
  private readonly open = new Map<ClientSession, Liveness>();
  private readonly live = new Map<string, ClientSession>();
  private readonly devices = new Map<string, ClientSession>();
  private readonly unregistering = new Set<Promise<void>>();
  private accepting = true;

  constructor(private readonly options: ConnectionHubOptions) {
    this.sessionEnvironment = {
      metrics: options.metrics,
      frameRate: options.frameRate,
      awaitedPerConnection: options.awaitedPerConnection,
    };
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** False once drain has begun: transports refuse new connections. */
  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Presence routes live for three heartbeats, rounded up to whole seconds. */
  get presenceTtlSeconds(): number {
    return Math.ceil((3 * this.options.heartbeatIntervalMs) / 1000);
  }

  get heartbeatIntervalMs(): number {
    return this.options.heartbeatIntervalMs;
  }

  /**
   * Takes a new connection in and starts its auth deadline. Returns false (and
   * closes the session with GoAway) while draining.
   */
  opened(session: ClientSession): boolean {
    if (!this.accepting) {
      goAwayDraining(session, this.drainSpreadMs);
      return false;
    }
    const liveness: Liveness = { authDeadline: undefined, idle: undefined, tokenExpiry: undefined, presenceTouchedAt: 0 };
    liveness.authDeadline = setTimeout(() => this.authDeadlinePassed(session), this.options.authTimeoutMs);
    liveness.authDeadline.unref();
    this.open.set(session, liveness);
    session.onClose(() => this.closed(session));
    return true;
  }

  /**
   * Makes an authenticated session routable: registers its presence route, closes
   * an older connection of the same device, then sends Authenticated. Never
   * rejects: on failure the session gets an error or GoAway frame and is closed.
   * Frames the client pipelines meanwhile wait for `session.authentication`.
   */
  attach(session: ClientSession, claims: AccessTokenClaims): Promise<void> {
    const attached = this.makeRoutable(session, claims);
    session.authentication = attached;
    return attached;
  }

  private async makeRoutable(session: ClientSession, claims: AccessTokenClaims): Promise<void> {
    const liveness = this.open.get(session);
    if (!liveness || !session.isOpen) return;
    const identity: SessionIdentity = {
      userId: claims.userId,
      deviceId: claims.deviceId,
      sessionId: claims.sessionId,
      connectionId: `${this.options.nodeId}.${uuidv7()}`,
      epoch: nextEpoch(),
    };
    session.state = 'authenticating';
    let registered: boolean;
    try {
      registered = await this.options.presence.register(this.routeOf(identity), this.presenceTtlSeconds);
    } catch (error) {
      this.options.logger.error({ err: error, userId: identity.userId }, 'presence registration failed');
      session.sendError(new AppError(ErrorCode.Unavailable, 'The server cannot take connections right now; try again shortly.', { reason: 'PRESENCE_UNAVAILABLE' }));
      session.close({ kind: 'unavailable', message: 'Presence registry unavailable.' });
      return;
    }
    if (!session.isOpen) {
      // The client left while we registered: take the route back.
      if (registered) this.unregister(identity);
      return;
    }
    // Asked only now that the route is registered, so a revocation racing this
    // connection is seen either here or by auth's presence lookup.
    if (registered && !(await this.sessionAllowed(session, identity, claims))) return;
    const key = deviceKey(identity.userId, identity.deviceId);
    const previous = this.devices.get(key);
    if (previous?.identity && previous.identity.epoch > identity.epoch) {
      // A newer connection of the same device on this node: final.
      if (registered) this.unregister(identity);
      goAwayReplaced(session, 'A newer connection of this device exists.');
      return;
    }
    if (!registered) {
      // Lost to a route from elsewhere, maybe only because of clock skew: retry.
      goAwayRouteConflict(session);
      return;
    }
    session.identity = identity;
    session.state = 'ready';
    this.live.set(identity.connectionId, session);
    this.devices.set(key, session);
    this.options.metrics.liveConnections.inc({ transport: session.transport });
    clearTimeout(liveness.authDeadline);
    liveness.authDeadline = undefined;
    liveness.presenceTouchedAt = Date.now();
    liveness.idle = setTimeout(() => this.idleTimeoutPassed(session), 3 * this.options.heartbeatIntervalMs);
    liveness.idle.unref();
    liveness.tokenExpiry = setTimeout(() => {
      if (session.isOpen) goAwayTokenExpired(session);
    }, Math.max(0, claims.expiresAt * 1000 - Date.now()));
    liveness.tokenExpiry.unref();
    if (previous && previous !== session) goAwayReplaced(previous, 'A newer connection of this device took over.');
    session.send({
      kind: {
        $case: 'authenticated',
        value: {
          userId: identity.userId,
          deviceId: identity.deviceId,
          connectionId: identity.connectionId,
          heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        },
      },
    });
    this.options.logger.debug(
      { connectionId: identity.connectionId, userId: identity.userId, deviceId: identity.deviceId, transport: session.transport },
      'connection authenticated',
    );
  }

  /**
   * Any frame from an authenticated client: restarts its idle timer and, at most
   * once per heartbeat interval, refreshes its presence route.
   */
  heard(session: ClientSession): void {
    const liveness = this.open.get(session);
    if (!liveness || !session.identity) return;
    liveness.idle?.refresh();
    const now = Date.now();
    if (now - liveness.presenceTouchedAt < this.options.heartbeatIntervalMs) return;
    liveness.presenceTouchedAt = now;
    void this.refreshPresence(session, session.identity);
  }

  /**
   * Closes this node's connections of sessions auth ended, with GoAway
   * (reconnect=false). Returns how many closed.
   */
  endSessions(ended: EndedSessions): number {
    let closed = 0;
    for (const session of [...this.live.values()]) {
      const identity = session.identity;
      if (!identity || identity.userId !== ended.userId) continue;
      if (ended.sessionIds.length > 0 && !ended.sessionIds.includes(identity.sessionId)) continue;
      goAwayRevoked(session, ended.reason || 'session revoked', ended.banned);
      closed += 1;
    }
    if (closed > 0) this.options.logger.info({ userId: ended.userId, reason: ended.reason, closed }, 'closed connections of ended sessions');
    return closed;
  }

  /** The authenticated local connection with this id, if it is still open. */
  find(connectionId: string): ClientSession | undefined {
    return this.live.get(connectionId);
  }

  get liveCount(): number {
    return this.live.size;
  }

  /**
   * Stops accepting, tells every connection to reconnect elsewhere after a
   * random delay (so clients do not stampede the other nodes), closes them and
   * waits until their presence routes are gone.
   */
  async drain(): Promise<void> {
    this.accepting = false;
    for (const session of [...this.open.keys()]) goAwayDraining(session, this.drainSpreadMs);
    await Promise.all([...this.unregistering]);
  }

  private get drainSpreadMs(): number {
    return this.options.drainReconnectSpreadMs ?? 2_000;
  }

  private async refreshPresence(session: ClientSession, identity: SessionIdentity): Promise<void> {
    const { presence, logger } = this.options;
    try {
      if (await presence.refresh(identity.userId, identity.deviceId, identity.connectionId, this.presenceTtlSeconds)) return;
      // The route expired (a pause, failed refreshes) or a newer connection took it;
      // registering again with our epoch succeeds only in the first case.
      if (!session.isOpen) return;
      if (!(await presence.register(this.routeOf(identity), this.presenceTtlSeconds))) goAwayReplaced(session, 'A newer connection of this device exists.');
      else if (session.isOpen) goAwayRouteLapsed(session);
      else this.unregister(identity); // closed meanwhile: take the route back
    } catch (error) {
      // The route lives on until its TTL; the next heartbeat tries again.
      logger.warn({ err: error, connectionId: identity.connectionId }, 'presence refresh failed');
    }
  }

  /**
   * True when auth says the session may connect. Otherwise the client is told
   * why (UNAUTHENTICATED for an ended session, PERMISSION_DENIED with the reason
   * for a ban, UNAVAILABLE when auth cannot be asked), the connection closes and
   * its route is taken back.
   */
  private async sessionAllowed(session: ClientSession, identity: SessionIdentity, claims: AccessTokenClaims): Promise<boolean> {
    const check = this.options.sessionCheck;
    if (!check) return true;
    let refusal: { error: AppError; kind: 'session_revoked' | 'banned' | 'unavailable' } | undefined;
    try {
      const verdict = await check(claims);
      if (verdict.kind === 'revoked') {
        refusal = {
          error: AppError.unauthenticated('This session has ended (logged out or revoked). Log in again.', 'SESSION_REVOKED'),
          kind: 'session_revoked',
        };
      } else if (verdict.kind === 'banned') {
        const why = verdict.reason ? ` Reason: ${verdict.reason}` : '';
        refusal = { error: AppError.permissionDenied(`This account is banned.${why}`, 'ACCOUNT_BANNED'), kind: 'banned' };
      }
    } catch (error) {
      this.options.logger.warn({ err: error, userId: identity.userId }, 'cannot check the session with auth');
      refusal = {
        error: new AppError(ErrorCode.Unavailable, 'The server cannot check your session right now; try again shortly.', { reason: 'SESSION_CHECK_UNAVAILABLE' }),
        kind: 'unavailable',
      };
    }
    if (!refusal && session.isOpen) return true;
    this.unregister(identity);
    if (refusal && session.isOpen) {
      session.sendError(refusal.error);
      session.close({ kind: refusal.kind, message: refusal.error.message });
    }
    return false;
  }

  private authDeadlinePassed(session: ClientSession): void {
    // The deadline is for the client's token. Once it arrived, checking it (JWKS,
    // presence, auth's session check) runs under those calls' own deadlines, so a
    // slow dependency is not blamed on the client as a missing auth frame.
    if (!session.isOpen || session.state !== 'connecting') return;
    session.sendError(
      AppError.unauthenticated(
        `No auth frame within ${this.options.authTimeoutMs} ms: send ClientFrame.auth with an access token right after connecting.`,
        'AUTH_TIMEOUT',
      ),
    );
    session.close({ kind: 'auth_timeout', message: 'Authentication timed out.' });
  }

  private idleTimeoutPassed(session: ClientSession): void {
    if (!session.isOpen) return;
    const silentMs = 3 * this.options.heartbeatIntervalMs;
    session.sendError(
      new AppError(ErrorCode.DeadlineExceeded, `No frame for ${silentMs} ms; ping every ${this.options.heartbeatIntervalMs} ms to stay connected.`, {
        reason: 'IDLE_TIMEOUT',
      }),
    );
    session.close({ kind: 'idle_timeout', message: 'Idle timeout.' });
  }

  private closed(session: ClientSession): void {
    const liveness = this.open.get(session);
    if (liveness) {
      clearTimeout(liveness.authDeadline);
      clearTimeout(liveness.idle);
      clearTimeout(liveness.tokenExpiry);
      this.open.delete(session);
    }
    const identity = session.identity;
    if (!identity || this.live.get(identity.connectionId) !== session) return;
    this.live.delete(identity.connectionId);
    const key = deviceKey(identity.userId, identity.deviceId);
    if (this.devices.get(key) === session) this.devices.delete(key);
    this.options.metrics.liveConnections.dec({ transport: session.transport });
    this.unregister(identity);
    this.options.logger.debug(
      { connectionId: identity.connectionId, reason: session.closeReason?.kind },
      'connection closed',
    );
  }

  /** Removes the route if it still names this connection; tracked so drain can wait for it. */
  private unregister(identity: SessionIdentity): void {
    const done: Promise<void> = this.options.presence
      .unregister(identity.userId, identity.deviceId, identity.connectionId)
      .catch((error: unknown) => {
        // The route expires on its own after its TTL; nothing else to do.
        this.options.logger.warn({ err: error, connectionId: identity.connectionId }, 'presence unregister failed');
      })
      .finally(() => this.unregistering.delete(done));
    this.unregistering.add(done);
  }

  private routeOf(identity: SessionIdentity): DeviceRoute {
    return {
      userId: identity.userId,
      deviceId: identity.deviceId,
      nodeId: this.options.nodeId,
      connectionId: identity.connectionId,
      epoch: identity.epoch,
    };
  }
}

function deviceKey(userId: string, deviceId: string): string {
  return `${userId}\u0000${deviceId}`;
}
