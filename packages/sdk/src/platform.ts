// SdkPlatform: the few things the SDK needs from its host that differ between
// browsers and Node. The core never imports Node modules; `@im-mesh/sdk/node`
// provides nodePlatform (native gRPC over HTTP/2 and the `ws` WebSocket).
import type { RpcChannel } from './rpc-channel.js';

/** The part of the WHATWG WebSocket the SDK uses; browsers, Node 22+ and `ws` all fit it. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface SdkPlatform {
  /** Opens native gRPC (HTTP/2) clients to `baseUrl`. Absent in browsers, which cannot speak it. */
  readonly openNativeChannel?: (baseUrl: string) => RpcChannel;
  /** The WebSocket class to use. */
  readonly WebSocket?: WebSocketConstructor;
}

/** What a browser (or any runtime with a global WebSocket) offers: grpc-web and WebSocket. */
export function browserPlatform(): SdkPlatform {
  const ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return ctor === undefined ? {} : { WebSocket: ctor };
}
