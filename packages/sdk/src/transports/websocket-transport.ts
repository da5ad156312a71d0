// The WebSocket transport: binary protobuf frames, one ServerFrame or ClientFrame
// per WebSocket message. The token rides in the handshake as the subprotocol
// `im.auth.<jwt>` next to `im.v1` (never in the URL, where proxies log it).
import { connectV1 } from '@im-mesh/contracts';
import type { WebSocketConstructor } from '../platform.js';
import type { ConnectionTransport, TransportAuth, TransportHandlers, TransportSession } from './connection-transport.js';

/** The subprotocol that names the frame format. */
export const WEBSOCKET_PROTOCOL = 'im.v1';
/** Prefix of the subprotocol that carries the access token. */
export const WEBSOCKET_AUTH_PROTOCOL_PREFIX = 'im.auth.';

const OPEN = 1;
const NORMAL_CLOSURE = 1000;

/** Raised when the socket ends without the client asking; `code` is the WebSocket close code. */
export class WebSocketClosedError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`The WebSocket closed with code ${code}${reason === '' ? '' : `: ${reason}`}.`);
    this.name = 'WebSocketClosedError';
  }
}

/** `url` is the ws:// or wss:// address of the endpoint, for example ws://127.0.0.1:9191/ws. */
export function webSocketTransport(url: string, WebSocketClass: WebSocketConstructor): ConnectionTransport {
  return {
    kind: 'websocket',
    open(auth: TransportAuth, handlers: TransportHandlers): TransportSession {
      const socket = new WebSocketClass(url, [WEBSOCKET_PROTOCOL, `${WEBSOCKET_AUTH_PROTOCOL_PREFIX}${auth.accessToken}`]);
      socket.binaryType = 'arraybuffer';
      let closedByClient = false;
      let failure: unknown;
      let finished = false;
      const finish = (error?: unknown): void => {
        if (finished) return;
        finished = true;
        handlers.onClose(closedByClient ? undefined : error);
      };

      socket.addEventListener('message', (event) => {
        if (finished) return;
        const bytes = toBytes(event.data);
        let frame: connectV1.ServerFrame;
        try {
          if (bytes === undefined) throw new Error('The server sent a text WebSocket message; frames are binary.');
          frame = connectV1.ServerFrame.decode(bytes);
        } catch (error) {
          failure = error;
          socket.close(NORMAL_CLOSURE, 'bad frame');
          return;
        }
        handlers.onFrame(frame);
      });
      socket.addEventListener('error', (event) => {
        failure ??= (event as { error?: unknown }).error ?? new Error(`The WebSocket to ${url} failed.`);
      });
      socket.addEventListener('close', (event) => {
        if (failure !== undefined) finish(failure);
        else if (event.code === NORMAL_CLOSURE) finish();
        else finish(new WebSocketClosedError(event.code, event.reason));
      });

      return {
        send: async (frame) => {
          if (socket.readyState !== OPEN) throw new Error('The WebSocket is not open.');
          socket.send(connectV1.ClientFrame.encode(frame).finish());
        },
        close: () => {
          closedByClient = true;
          socket.close(NORMAL_CLOSURE, 'client closed');
          // Browsers report a close before the handshake later, or never; do not wait for it.
          finish();
        },
      };
    },
  };
}

/** The http(s):// edge address turned into its ws(s):// `/ws` endpoint. */
export function webSocketUrlOf(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/$/, '')}/ws`;
  return url.toString();
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}
