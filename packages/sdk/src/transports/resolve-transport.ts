// resolveTransport: turns a transport kind ('grpc', 'grpc-web', 'websocket') into
// a ConnectionTransport, reusing the unary channel when it speaks the right
// protocol and opening a second one when it does not.
import type { SdkPlatform } from '../platform.js';
import { openGrpcWebChannel, openRpcChannel, type RpcChannel } from '../rpc-channel.js';
import type { ConnectionTransport, TransportKind } from './connection-transport.js';
import { grpcStreamTransport } from './grpc-stream-transport.js';
import { grpcWebTransport } from './grpc-web-transport.js';
import { webSocketTransport, webSocketUrlOf } from './websocket-transport.js';

export interface TransportContext {
  readonly baseUrl: string;
  readonly webSocketUrl: string | undefined;
  readonly platform: SdkPlatform;
  /** The channel of unary calls. */
  readonly channel: RpcChannel;
}

/** `channel` is set when a channel was opened for the transport alone (close it with the client). */
export function resolveTransport(
  transport: TransportKind | ConnectionTransport,
  context: TransportContext,
): { transport: ConnectionTransport; channel?: RpcChannel } {
  if (typeof transport !== 'string') return { transport };
  switch (transport) {
    case 'grpc': {
      if (context.channel.kind === 'grpc') return { transport: grpcStreamTransport(context.channel.connect) };
      const channel = openRpcChannel(context.baseUrl, 'grpc', context.platform);
      return { transport: grpcStreamTransport(channel.connect), channel };
    }
    case 'grpc-web': {
      if (context.channel.kind === 'grpc-web') return { transport: grpcWebTransport(context.channel.connect) };
      const channel = openGrpcWebChannel(context.baseUrl);
      return { transport: grpcWebTransport(channel.connect), channel };
    }
    case 'websocket': {
      const WebSocketClass = context.platform.WebSocket;
      if (WebSocketClass === undefined) {
        throw new Error("No WebSocket on this platform: pass nodePlatform from '@im-mesh/sdk/node'.");
      }
      return { transport: webSocketTransport(context.webSocketUrl ?? webSocketUrlOf(context.baseUrl), WebSocketClass) };
    }
    default:
      throw new Error(`Unknown transport "${String(transport)}": use 'grpc', 'grpc-web' or 'websocket'.`);
  }
}
