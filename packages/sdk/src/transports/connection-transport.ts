// ConnectionTransport: one long connection to connect, whatever carries it
// (gRPC bidi stream, grpc-web Subscribe + Ack, WebSocket). Every transport turns
// its wire into the same ServerFrame/ClientFrame dispatch, so ImClient has one
// code path for all three.
import type { connectV1 } from '@im-mesh/contracts';
import type { AccessTokenSource } from '../access-token-source.js';

export type TransportKind = 'grpc' | 'grpc-web' | 'websocket';

export interface TransportHandlers {
  /** Every frame the server sends, in order. */
  onFrame(frame: connectV1.ServerFrame): void;
  /**
   * The connection is over. Called exactly once, also after close(); `error` is
   * undefined when the client closed it or the server ended it cleanly.
   */
  onClose(error?: unknown): void;
}

export interface TransportAuth {
  /** The token to authenticate the connection with. */
  readonly accessToken: string;
  /** For transports that make calls later on (grpc-web Ack), which need a token that is still valid. */
  readonly tokens: AccessTokenSource;
}

export interface TransportSession {
  /**
   * Sends one frame. Rejects when the connection cannot take it; the connection
   * reports its own end through onClose.
   */
  send(frame: connectV1.ClientFrame): Promise<void>;
  /** Ends the connection; onClose follows. Safe to call more than once. */
  close(): void;
}

export interface ConnectionTransport {
  readonly kind: TransportKind | string;
  /** Opens a connection and authenticates it; the server answers with `authenticated`. */
  open(auth: TransportAuth, handlers: TransportHandlers): TransportSession;
}
