// ClientSession: one client connection, whatever carries it (WebSocket, the gRPC
// Connect stream, or a Subscribe stream). Transports only decode, encode and feed
// frames to `dispatch`; everything a connection means in the messaging domain
// (who it is, what it awaits, when it closes) lives here and in the hub, so every
// transport behaves the same.
import { connectV1, encodeMessage } from '@im-mesh/contracts';
import { ErrorCode, grpcStatusOfErrorCode, type AppError } from '@im-mesh/platform';
import { DeliveryLedger } from '../delivery/delivery-ledger.js';
import type { ConnectMetrics } from '../metrics.js';
import { FrameAllowance, type FrameRate } from './frame-allowance.js';

export type TransportKind = 'websocket' | 'grpc-connect' | 'grpc-subscribe';

/** Why a connection ends. Each transport turns it into its own close code or status. */
export type CloseKind =
  | 'client_closed'
  | 'replaced'
  | 'draining'
  | 'route_lapsed'
  | 'route_conflict'
  | 'idle_timeout'
  | 'auth_timeout'
  | 'unauthenticated'
  | 'frame_malformed'
  | 'frame_too_large'
  | 'rate_limited'
  | 'slow_reader'
  | 'unavailable'
  | 'session_revoked'
  | 'banned'
  | 'token_expired';

export interface CloseReason {
  kind: CloseKind;
  /** A sentence for logs, the WebSocket close frame and the gRPC status. */
  message: string;
}

/**
 * How a close looks on the wire. WebSocket codes follow RFC 6455 (1000 normal,
 * 1001 going away, 1007 bad data, 1008 policy, 1011 server error, 1013 try again
 * later); gRPC streams end OK when `error` is undefined, else with that status.
 */
export const CLOSE_POLICY: Record<CloseKind, { wsCode: number; error: ErrorCode | undefined }> = {
  client_closed: { wsCode: 1000, error: undefined },
  replaced: { wsCode: 1000, error: undefined },
  draining: { wsCode: 1001, error: undefined },
  // Both come with GoAway{reconnect}: the client is expected back shortly.
  route_lapsed: { wsCode: 1001, error: undefined },
  route_conflict: { wsCode: 1001, error: undefined },
  idle_timeout: { wsCode: 1001, error: ErrorCode.DeadlineExceeded },
  auth_timeout: { wsCode: 1008, error: ErrorCode.Unauthenticated },
  unauthenticated: { wsCode: 1008, error: ErrorCode.Unauthenticated },
  frame_malformed: { wsCode: 1007, error: ErrorCode.InvalidArgument },
  frame_too_large: { wsCode: 1009, error: ErrorCode.ResourceExhausted },
  rate_limited: { wsCode: 1008, error: ErrorCode.ResourceExhausted },
  slow_reader: { wsCode: 1013, error: ErrorCode.ResourceExhausted },
  unavailable: { wsCode: 1011, error: ErrorCode.Unavailable },
  // Logout, revocation, refresh-token reuse: final (GoAway reconnect=false).
  session_revoked: { wsCode: 1008, error: ErrorCode.Unauthenticated },
  banned: { wsCode: 1008, error: ErrorCode.PermissionDenied },
  // The access token ran out mid-connection: refresh it and reconnect (GoAway reconnect=true).
  token_expired: { wsCode: 1001, error: ErrorCode.Unauthenticated },
};

/** Who is on the other end, fixed once authentication succeeds. */
export interface SessionIdentity {
  userId: string;
  deviceId: string;
  /** The login session the access token belongs to. */
  sessionId: string;
  /** `<nodeId>.<uuidv7>`: the node prefix lets a router find the node holding it. */
  connectionId: string;
  /** Orders this device's connections in presence; a newer connection has a greater epoch. */
  epoch: number;
}

/**
 * connecting: open, waiting for its auth frame; authenticating: verifying the
 * token; ready: authenticated and routable; closed: gone for good.
 */
export type SessionState = 'connecting' | 'authenticating' | 'ready' | 'closed';

/** What every session needs from its node, handed over by the hub. */
export interface SessionEnvironment {
  metrics: ConnectMetrics;
  /** The inbound frame budget per connection, as currently configured (a live setting). */
  frameRate: () => FrameRate;
  awaitedPerConnection: number;
}

/** Produces the frame's protobuf bytes; shared by every WebSocket target of one push. */
export type FrameBytes = () => Uint8Array;

let localSequence = 0;

export abstract class ClientSession {
  state: SessionState = 'connecting';
  identity: SessionIdentity | undefined;
  /** Resolves when the auth frame has been handled (successfully or not). */
  authentication: Promise<void> | undefined;
  /** Frames that arrived while the auth frame was still being verified. */
  framesWaitingForAuth = 0;
  closeReason: CloseReason | undefined;
  /** Inbound frame budget: a connection that floods is closed. */
  readonly allowance: FrameAllowance;
  /** Pushed messages: recently seen ids (dedupe) and those awaiting the client's ack. */
  readonly ledger: DeliveryLedger;
  /** A process-local number for logs before the connection has an id. */
  readonly localId = ++localSequence;
  private readonly closeListeners: Array<(reason: CloseReason) => void> = [];

  constructor(
    readonly transport: TransportKind,
    /** The remote address, for logs. */
    readonly peer: string,
    protected readonly environment: SessionEnvironment,
  ) {
    this.allowance = new FrameAllowance(environment.frameRate);
    this.ledger = new DeliveryLedger(environment.awaitedPerConnection);
  }

  get userId(): string | undefined {
    return this.identity?.userId;
  }
  get deviceId(): string | undefined {
    return this.identity?.deviceId;
  }
  get connectionId(): string | undefined {
    return this.identity?.connectionId;
  }
  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Queues `frame` for the client; ignored once the session is closed. */
  send(frame: connectV1.ServerFrame, bytes?: FrameBytes): void {
    if (this.state === 'closed') return;
    this.environment.metrics.framesOut.inc({ transport: this.transport, kind: frame.kind?.$case ?? 'unknown' });
    this.write(frame, bytes ?? (() => encodeMessage(connectV1.ServerFrame, frame)));
  }

  /** Sends ServerFrame.error carrying the error's status code, message and reason. */
  sendError(error: AppError): void {
    this.send({
      kind: {
        $case: 'error',
        value: { code: grpcStatusOfErrorCode(error.code), message: error.message, reason: error.reason ?? '' },
      },
    });
  }

  /** Sends GoAway: `reconnect` tells the client whether to come back, after `afterMs`. */
  sendGoAway(reconnect: boolean, afterMs: number, reason: string): void {
    this.send({ kind: { $case: 'goAway', value: { reconnect, reconnectAfterMs: afterMs, reason } } });
  }

  /**
   * Ends the connection once; frames sent before still reach the client where the
   * transport allows. Close listeners run first, so the hub forgets the
   * connection before the transport tears it down.
   */
  close(reason: CloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    this.environment.metrics.closes.inc({ transport: this.transport, reason: reason.kind });
    for (const listener of this.closeListeners.splice(0)) listener(reason);
    this.end(reason);
  }

  onClose(listener: (reason: CloseReason) => void): void {
    if (this.closeReason) listener(this.closeReason);
    else this.closeListeners.push(listener);
  }

  /** Writes one frame to the wire (or the stream's queue). */
  protected abstract write(frame: connectV1.ServerFrame, bytes: FrameBytes): void;
  /** Ends the underlying connection as `reason` says. Called once. */
  protected abstract end(reason: CloseReason): void;
}
