// nodePlatform: native gRPC channels and the `ws` WebSocket for Node 20, which
// has neither in its globals.
import WebSocket from 'ws';
import type { SdkPlatform, WebSocketConstructor } from '../platform.js';
import { openNativeGrpcChannel } from './native-grpc-channel.js';

/**
 * `ws` with per-message deflate off (the server does not negotiate it) and the
 * browser-style constructor signature the SDK expects.
 */
class NodeWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: false });
  }
}

export const nodePlatform: SdkPlatform = {
  openNativeChannel: openNativeGrpcChannel,
  WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
};
