// The public surface of @im-mesh/sdk, safe for browsers and Node alike. Node-only
// adapters (native gRPC, the `ws` WebSocket) live in '@im-mesh/sdk/node'.

export { ImClient } from './im-client.js';
export type { ImClientOptions, MessageTarget, SendTextOptions } from './im-client.js';
export { AuthClient } from './auth-client.js';
export type { AuthClientOptions, AuthSession } from './auth-client.js';
export { staticAccessToken } from './access-token-source.js';
export type { AccessTokenOptions, AccessTokenSource } from './access-token-source.js';
export { encryptLoginSecret } from './login-secret.js';
export type { LoginSecret } from './login-secret.js';
export { GoAwayError, ServerFrameError } from './connection-supervisor.js';
export type { ConnectionState } from './connection-supervisor.js';
export { MemorySyncStateStore } from './sync-state-store.js';
export type { SyncStateStore } from './sync-state-store.js';
export { DeliverySequencer } from './delivery-sequencer.js';
export { applyMessageEvent, eventTargetId } from './message-events.js';
export type { MessageEventCase } from './message-events.js';
export type { AppliedMessage, GapRequest, OfferResult, OfferStatus } from './delivery-sequencer.js';
export { browserPlatform } from './platform.js';
export type { SdkPlatform, WebSocketConstructor, WebSocketLike } from './platform.js';
export { DEFAULT_BASE_URL, openGrpcWebChannel, openRpcChannel } from './rpc-channel.js';
export type { RpcChannel, RpcKind } from './rpc-channel.js';
export type { CallPolicy } from './rpc-call.js';
export type { BackoffOptions } from './timing.js';
export type { Unsubscribe } from './listeners.js';
export { WebSocketClosedError, WEBSOCKET_AUTH_PROTOCOL_PREFIX, WEBSOCKET_PROTOCOL, webSocketUrlOf } from './transports/websocket-transport.js';
export type {
  ConnectionTransport,
  TransportAuth,
  TransportHandlers,
  TransportKind,
  TransportSession,
} from './transports/connection-transport.js';
