// A ClientSession over a WebSocket: one binary protobuf ServerFrame per message.
// It closes slow readers: when the socket's unsent bytes pass the cap, the client
// is not keeping up and buffering more would only grow this process's memory.
import type { connectV1 } from '@im-mesh/contracts';
import type { WebSocket } from 'ws';
import { CLOSE_POLICY, ClientSession, type CloseReason, type FrameBytes, type SessionEnvironment } from '../sessions/client-session.js';

/** After a close frame, how long a client gets to answer before the socket is cut, in ms. */
const CLOSE_HANDSHAKE_MS = 2_000;

export class WebSocketSession extends ClientSession {
  constructor(
    private readonly socket: WebSocket,
    peer: string,
    environment: SessionEnvironment,
    private readonly maxBufferedBytes: number,
  ) {
    super('websocket', peer, environment);
  }

  protected write(_frame: connectV1.ServerFrame, bytes: FrameBytes): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(bytes(), { binary: true });
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close({ kind: 'slow_reader', message: 'slow reader' });
    }
  }

  protected end(reason: CloseReason): void {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CONNECTING) return;
    // The close frame queues behind frames already sent (an error, a GoAway), so
    // the client reads why before the socket closes.
    socket.close(CLOSE_POLICY[reason.kind].wsCode, closeText(reason.message));
    setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }
}

/** A close reason must fit in 123 bytes of UTF-8. */
function closeText(message: string): string {
  let text = message;
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  return text;
}
