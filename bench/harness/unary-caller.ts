// A lean gRPC unary client for the load workers: node:http2 and the generated
// codecs, nothing more. A load worker ran SendMessage through nice-grpc and
// grpc-js, which cost it more CPU per call than the all-in-one spent serving it
// (two workers took 1.1 of this machine's 2 cores at 2,000 msg/s; bench/RESULTS.md),
// and on one machine the load generator's CPU is taken from the system it
// measures. The calls on the wire are the same: gRPC over HTTP/2 with a
// length-prefixed message, the token in `authorization`, and the status from
// the trailers (or a trailers-only answer). The deadline is the client's own,
// as nice-grpc's signal was: no grpc-timeout goes to the server.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { encodeMessage, type MessageEncoder } from '@im-mesh/contracts';
import { Status } from 'nice-grpc-common';

const FRAME_HEADER_BYTES = 5;
const FRAME_HEADER_ROOM = new Uint8Array(FRAME_HEADER_BYTES);
/** Calls one connection carries at once, at most (below the edge's SETTINGS_MAX_CONCURRENT_STREAMS). */
const MAX_STREAMS_PER_SESSION = 500;

export class UnaryCallError extends Error {
  constructor(
    readonly path: string,
    readonly code: number,
    readonly details: string,
  ) {
    // nice-grpc's form: "/path CODE: details".
    super(`${path} ${Status[code] ?? code}: ${details}`);
  }
}

export interface MessageDecoder<T> {
  decode(input: Uint8Array): T;
}

interface PooledSession {
  session: ClientHttp2Session;
  active: number;
}

interface PendingCall {
  path: string;
  stream: ClientHttp2Stream;
  deadline: number;
  fail: (error: UnaryCallError) => void;
}

export class UnaryCaller {
  private sessions: PooledSession[] = [];
  /** Calls waiting for an answer, swept once a second for their deadline (one timer, not one per call). */
  private readonly pending = new Set<PendingCall>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly options: { timeoutMs: number; localAddress?: string },
  ) {
    this.sweeper = setInterval(() => this.sweep(), 1_000);
    this.sweeper.unref();
  }

  /** Calls the unary method at `path` ("/im.message.v1.MessageService/SendMessage") as the holder of `accessToken`. */
  call<Request, Response>(path: string, encoder: MessageEncoder<Request>, decoder: MessageDecoder<Response>, request: Request, accessToken: string): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const body = Buffer.from(encodeMessage(encoder, request, FRAME_HEADER_ROOM));
      body.writeUInt32BE(body.length - FRAME_HEADER_BYTES, 1);
      const pooled = this.session();
      pooled.active += 1;
      const stream = pooled.session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Bearer ${accessToken}`,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      let settled = false;
      const call: PendingCall = {
        path,
        stream,
        deadline: Date.now() + this.options.timeoutMs,
        fail: (error) => finish(error),
      };
      this.pending.add(call);
      const finish = (error?: UnaryCallError): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(call);
        if (error) {
          if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
          reject(error);
          return;
        }
        if (status === undefined) {
          reject(new UnaryCallError(path, Status.UNAVAILABLE, `the stream closed without a status (HTTP/2 code ${stream.rstCode ?? 'none'})`));
          return;
        }
        if (status !== '0') {
          reject(new UnaryCallError(path, Number(status), decodeGrpcMessage(message)));
          return;
        }
        const received = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (received.length < FRAME_HEADER_BYTES || received.readUInt32BE(1) !== received.length - FRAME_HEADER_BYTES) {
          reject(new UnaryCallError(path, Status.INTERNAL, `expected one response message, got ${received.length} bytes`));
          return;
        }
        try {
          resolve(decoder.decode(received.subarray(FRAME_HEADER_BYTES)));
        } catch (decodeError) {
          reject(new UnaryCallError(path, Status.INTERNAL, `the response does not decode: ${(decodeError as Error).message}`));
        }
      };
      const readStatus = (headers: IncomingHttpHeaders): void => {
        const found = headers['grpc-status'];
        if (found === undefined) return;
        status = String(found);
        message = String(headers['grpc-message'] ?? '');
      };
      // A trailers-only answer (an error) carries the status with the headers.
      stream.on('response', readStatus);
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => undefined); // the close below settles the call
      stream.on('close', () => {
        pooled.active -= 1;
        finish();
      });
      stream.end(body);
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const { session } of this.sessions) session.close();
    this.sessions = [];
  }

  /** A connection with room for one more call, opened when every one is full. */
  private session(): PooledSession {
    for (const pooled of this.sessions) {
      const limit = Math.min(MAX_STREAMS_PER_SESSION, pooled.session.remoteSettings.maxConcurrentStreams ?? MAX_STREAMS_PER_SESSION);
      if (!pooled.session.closed && !pooled.session.destroyed && pooled.active < limit) return pooled;
    }
    const { hostname, port } = new URL(this.url);
    const { localAddress } = this.options;
    const session = connect(this.url, {
      // From the worker's own loopback address, as its WebSockets.
      createConnection: () => netConnect({ host: hostname, port: Number(port), ...(localAddress !== undefined && { localAddress }) }),
    });
    const pooled: PooledSession = { session, active: 0 };
    const forget = () => {
      this.sessions = this.sessions.filter((candidate) => candidate !== pooled);
    };
    // Calls already on it end with their streams; new ones go to another connection.
    session.on('goaway', forget);
    session.on('close', forget);
    session.on('error', forget);
    this.sessions.push(pooled);
    return pooled;
  }

  private sweep(): void {
    const now = Date.now();
    for (const call of this.pending) {
      if (call.deadline <= now) call.fail(new UnaryCallError(call.path, Status.DEADLINE_EXCEEDED, 'no answer before the deadline'));
    }
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2); a malformed escape is shown as sent. */
function decodeGrpcMessage(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}
