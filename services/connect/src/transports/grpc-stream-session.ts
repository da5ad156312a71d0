// A ClientSession over a gRPC server stream (Connect or Subscribe). Frames wait in
// a bounded queue that the stream's handler drains as fast as HTTP/2 flow control
// lets it; a client that falls `maxQueued` frames behind is a slow reader and its
// stream ends with RESOURCE_EXHAUSTED. While HTTP/2 holds the handler at a write,
// the stream can only end once that write completes or the call is cancelled
// (keepalive cuts dead peers); the session itself is closed and forgotten at once.
import type { connectV1 } from '@im-mesh/contracts';
import { AppError } from '@im-mesh/platform';
import { CLOSE_POLICY, ClientSession, type CloseReason, type SessionEnvironment, type TransportKind } from '../sessions/client-session.js';

export class GrpcStreamSession extends ClientSession {
  private readonly queue: connectV1.ServerFrame[] = [];
  private wake: (() => void) | undefined;
  private ending: CloseReason | undefined;

  constructor(
    transport: Extract<TransportKind, 'grpc-connect' | 'grpc-subscribe'>,
    peer: string,
    environment: SessionEnvironment,
    private readonly maxQueued: number,
    /** The call's abort signal: a client that cancels closes the session. */
    signal: AbortSignal,
  ) {
    super(transport, peer, environment);
    if (signal.aborted) this.close({ kind: 'client_closed', message: 'call cancelled' });
    else signal.addEventListener('abort', () => this.close({ kind: 'client_closed', message: 'call cancelled' }), { once: true });
  }

  /**
   * The frames to stream, in order, until the session closes. Frames queued
   * before a close still go out (the error or GoAway explaining it), except for
   * a slow reader; then the stream ends OK or throws the close's status.
   */
  async *frames(): AsyncGenerator<connectV1.ServerFrame, void, undefined> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ending) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    const ending = this.ending!;
    const error = CLOSE_POLICY[ending.kind].error;
    if (error) throw new AppError(error, ending.message, { reason: ending.kind.toUpperCase() });
  }

  protected write(frame: connectV1.ServerFrame): void {
    if (this.queue.length >= this.maxQueued) {
      this.close({ kind: 'slow_reader', message: 'The client is not reading its stream fast enough; reconnect and sync.' });
      return;
    }
    this.queue.push(frame);
    this.wake?.();
  }

  protected end(reason: CloseReason): void {
    this.ending = reason;
    // A slow reader's backlog would only be read late, if ever: sync replaces it.
    if (reason.kind === 'slow_reader') this.queue.length = 0;
    this.wake?.();
  }
}
