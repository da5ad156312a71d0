// Unary calls served in-process. When the edge runs in the same process as a
// service (the all-in-one), a client's unary call need not cross a loopback HTTP/2
// connection a second time: the edge hands the call's bytes here, and the same
// middleware (error boundary, malformed-request check, access-token check) and
// handler the gRPC server would run answer it. Everything a caller can observe is
// kept: metadata in and out, grpc-timeout, cancellation when the caller leaves,
// message size limits, statuses with their messages and trailers. The HTTP/2 hop
// cost more CPU than the handlers of the busiest calls (SendMessage, PullMessages);
// server streams and client streams still go over gRPC.
import type { OutgoingHttpHeaders } from 'node:http2';
import { encodeMessage, type MessageEncoder } from '@im-mesh/contracts';
import { isAbortError } from 'abort-controller-x';
import {
  Metadata,
  ServerError,
  Status,
  type CallContext,
  type MethodDescriptor,
  type ServerMiddleware,
} from 'nice-grpc-common';
import type { Logger } from 'pino';

/** A unary call as the edge received it. */
export interface LocalUnaryRequest {
  /**
   * The request's headers as they would go upstream: metadata (lower-case names,
   * `-bin` values in base64), `grpc-timeout`, `x-forwarded-for` with the hop appended.
   */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request body as on the wire: gRPC length-prefixed message frames. */
  body: Buffer;
  /**
   * The call's cancellation, shared: the caller aborts it when it goes away; the
   * service aborts it when the deadline passes or it is force-stopped. Its signal
   * is the handler's `context.signal` (one controller per call, not one per side).
   */
  cancellation: AbortController;
}

/** The answer, ready to write as a gRPC (or grpc-web) response. */
export interface LocalUnaryResponse {
  /** Response metadata the handler set (no pseudo-headers, no content-type). */
  headers: OutgoingHttpHeaders;
  /** The response message as one length-prefixed frame; absent when the call failed. */
  message?: Buffer;
  /** `grpc-status`, `grpc-message` (percent-encoded) and the trailer metadata. */
  trailers: OutgoingHttpHeaders;
}

/** Never rejects: every failure is a status in the trailers. */
export type LocalUnaryHandler = (request: LocalUnaryRequest) => Promise<LocalUnaryResponse>;

/** The unary methods of one gRPC server, callable in-process. */
export interface LocalUnaryCalls {
  /**
   * The handler of the unary method at `path` ("/im.message.v1.MessageService/SendMessage"),
   * or undefined when this server has no such unary method (streams go over gRPC).
   */
  unary(path: string): LocalUnaryHandler | undefined;
  /** The largest request message this server accepts, in bytes (the frame adds 5). */
  readonly maxMessageBytes: number;
}

/** The parts of a ts-proto generic method definition this file uses. */
export interface LocalMethodDefinition {
  name: string;
  requestType: { decode(input: Uint8Array): unknown };
  responseType: MessageEncoder<unknown>;
  requestStream: boolean;
  responseStream: boolean;
  options: MethodDescriptor['options'];
}

type UnaryImplementation = (request: unknown, context: CallContext) => Promise<unknown>;

export const FRAME_HEADER_BYTES = 5;
/** Request headers that describe the HTTP/2 hop, not the call (grpc-js drops the same). */
const NOT_REQUEST_METADATA = new Set(['grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'te', 'content-type']);
/** grpc-timeout as grpc-js reads it: up to 8 digits and a unit, anywhere in the value. */
const TIMEOUT_PATTERN = /(\d{1,8})\s*([HMSmun])/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };
/** setTimeout's ceiling (about 24.8 days); longer deadlines wait that long. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export class LocalUnaryRegistry implements LocalUnaryCalls {
  private readonly handlers = new Map<string, LocalUnaryHandler>();
  /** One entry per call running (an object each: a caller might reuse a controller). */
  private readonly running = new Set<{ cancellation: AbortController }>();
  private accepting = true;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly logger: Logger,
    readonly maxMessageBytes: number,
  ) {}

  unary(path: string): LocalUnaryHandler | undefined {
    return this.handlers.get(path);
  }

  /** Registers the unary methods of a service, behind `middleware` as the gRPC server has them. */
  addService(
    fullName: string,
    methods: Record<string, LocalMethodDefinition>,
    implementation: Record<string, unknown>,
    middleware: ServerMiddleware<unknown>,
  ): void {
    for (const [key, method] of Object.entries(methods)) {
      if (method.requestStream || method.responseStream) continue;
      const implement = implementation[key];
      if (typeof implement !== 'function') continue;
      const descriptor: MethodDescriptor = {
        path: `/${fullName}/${method.name}`,
        requestStream: false,
        responseStream: false,
        options: method.options,
      };
      this.handlers.set(descriptor.path, this.handlerFor(descriptor, method, (implement as UnaryImplementation).bind(implementation), middleware));
    }
  }

  /** New calls answer UNAVAILABLE from now on, as a server that stopped listening would. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Resolves once no call is running, so the service closes its database only
   * after them (as a gRPC server's shutdown waits for its calls).
   */
  drained(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.onIdle;
      this.onIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Stops accepting and cancels every call running (their handlers see the abort); drained() resolves. */
  cancelAll(): void {
    this.accepting = false;
    for (const call of this.running) call.cancellation.abort();
    this.running.clear();
    this.notifyIdle();
  }

  private handlerFor(
    descriptor: MethodDescriptor,
    method: LocalMethodDefinition,
    implement: UnaryImplementation,
    middleware: ServerMiddleware<unknown>,
  ): LocalUnaryHandler {
    return async ({ headers, body, cancellation }) => {
      if (!this.accepting) return failed(Status.UNAVAILABLE, 'The service is shutting down. Try again shortly.');
      const payload = singleMessage(body, descriptor.path, this.maxMessageBytes);
      if (payload instanceof ServerError) return failed(payload.code, payload.details);
      const timeout = single(headers['grpc-timeout']);
      const timeoutMatch = timeout === undefined ? undefined : TIMEOUT_PATTERN.exec(timeout);
      if (timeoutMatch === null) return failed(Status.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);

      const header = Metadata();
      const trailer = Metadata();
      const context: CallContext = {
        metadata: metadataOf(headers, this.logger),
        peer: LOCAL_PEER,
        header,
        // A unary answer carries its header metadata with the message; nothing to send early.
        sendHeader: () => undefined,
        trailer,
        signal: cancellation.signal,
      };
      const run = async (): Promise<LocalUnaryResponse> => {
        let response: unknown;
        try {
          const request = method.requestType.decode(payload);
          response = await unaryResult(
            middleware({ method: descriptor, requestStream: false, request, responseStream: false, next: unaryNext(implement) }, context),
          );
        } catch (error) {
          return this.failure(descriptor.path, error, header, trailer);
        }
        // What follows is grpc-js's: its sentences, its limit on the payload, and no metadata with these failures.
        let framed: Buffer;
        try {
          framed = frame(encodeMessage(method.responseType, response, FRAME_HEADER_ROOM));
        } catch (error) {
          this.logger.error({ err: error, method: descriptor.path }, 'cannot serialize the response of an in-process gRPC call');
          return failed(Status.INTERNAL, 'Error serializing response');
        }
        if (framed.length - FRAME_HEADER_BYTES > this.maxMessageBytes) {
          return failed(Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${framed.length} vs. ${this.maxMessageBytes})`);
        }
        return { headers: headersOf(header), message: framed, trailers: { ...headersOf(trailer), 'grpc-status': '0', 'grpc-message': 'OK' } };
      };

      // Counted until the handler returns, even when the deadline answered first.
      const call = { cancellation };
      this.running.add(call);
      const handled = run().finally(() => {
        if (this.running.delete(call) && this.running.size === 0) this.notifyIdle();
      });
      if (!timeoutMatch) return handled;
      let deadlineTimer: NodeJS.Timeout | undefined;
      const deadline = new Promise<LocalUnaryResponse>((resolve) => {
        const timeoutMs = Math.min(Math.floor(Number(timeoutMatch[1]) * TIMEOUT_UNIT_MS[timeoutMatch[2]!]!), LONGEST_TIMER_MS);
        deadlineTimer = setTimeout(() => {
          cancellation.abort();
          resolve(failed(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
        }, timeoutMs);
        // A handler that ignores its signal must not keep the process up with a long deadline.
        deadlineTimer.unref();
      });
      try {
        return await Promise.race([handled, deadline]);
      } finally {
        clearTimeout(deadlineTimer);
      }
    };
  }

  private notifyIdle(): void {
    const idle = this.onIdle;
    this.onIdle = undefined;
    idle?.();
  }

  private failure(path: string, error: unknown, header: Metadata, trailer: Metadata): LocalUnaryResponse {
    if (error instanceof ServerError) return failed(error.code, error.details, header, trailer);
    if (isAbortError(error)) return failed(Status.CANCELLED, 'The operation was cancelled', header, trailer);
    // The error boundary turns every handler error into a ServerError; this is a middleware's own bug.
    this.logger.error({ err: error, method: path }, 'uncaught error in an in-process gRPC call');
    return failed(Status.UNKNOWN, 'Unknown server error occurred', header, trailer);
  }
}

/**
 * The payload of the one message a unary request carries, or the status grpc-js
 * answers: it reads whole frames only (a partial one at the end is ignored), and
 * with no grpc-encoding the compressed flag changes nothing (the edge forwards
 * requests that name an encoding).
 */
function singleMessage(body: Buffer, path: string, maxMessageBytes: number): Buffer | ServerError {
  if (body.length < FRAME_HEADER_BYTES) {
    return new ServerError(Status.UNIMPLEMENTED, `Received no request message for server streaming method ${path}`);
  }
  const length = body.readUInt32BE(1);
  if (length > maxMessageBytes) {
    return new ServerError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs ${maxMessageBytes})`);
  }
  const end = FRAME_HEADER_BYTES + length;
  if (body.length < end) return new ServerError(Status.UNIMPLEMENTED, `Received no request message for server streaming method ${path}`);
  if (body.length >= end + FRAME_HEADER_BYTES && body.length >= end + FRAME_HEADER_BYTES + body.readUInt32BE(end + 1)) {
    return new ServerError(Status.UNIMPLEMENTED, `Received a second request message for server streaming method ${path}`);
  }
  return body.subarray(FRAME_HEADER_BYTES, end);
}

/**
 * How a call handed over in-process looks to handlers that read the peer (auth's
 * per-address limits): as a call from the edge on loopback, which it is in all
 * but the socket (grpc-js's form of a peer without a port). The client's own
 * address is in x-forwarded-for, as over gRPC, so AUTH_TRUSTED_PROXIES must
 * include 127.0.0.1 (it does by default) for per-client limits in the all-in-one.
 */
export const LOCAL_PEER = '127.0.0.1';

function unaryNext(implement: UnaryImplementation) {
  return async function* callImplementation(request: unknown, context: CallContext): AsyncGenerator<never, unknown, undefined> {
    return await implement(request, context);
  };
}

/** A unary chain returns its response; yielding or returning nothing is a middleware bug. */
async function unaryResult(generator: AsyncGenerator<unknown, unknown, undefined>): Promise<unknown> {
  const result = await generator.next();
  if (!result.done) {
    await generator.return(undefined);
    throw new Error('A middleware yielded a message for a unary method; it must return one');
  }
  if (result.value === undefined || result.value === null) throw new Error('A unary method returned no message');
  return result.value;
}

/** A failed call: header metadata the handler set goes out too, as grpc-js sends it before the status. */
function failed(code: Status, message: string, header?: Metadata, trailer?: Metadata): LocalUnaryResponse {
  return {
    headers: header ? headersOf(header) : {},
    trailers: { ...(trailer ? headersOf(trailer) : {}), 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) },
  };
}

/** Room for the frame header, encoded ahead of the message (uncompressed flag 0, then the length). */
const FRAME_HEADER_ROOM = new Uint8Array(FRAME_HEADER_BYTES);

/** Fills in the frame header of bytes encoded after FRAME_HEADER_ROOM, without copying them. */
function frame(encoded: Uint8Array): Buffer {
  const framed = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  framed.writeUInt32BE(framed.length - FRAME_HEADER_BYTES, 1);
  return framed;
}

/**
 * Request headers to call metadata, as grpc-js builds it: `-bin` values are
 * base64, custom ones may be comma-joined, and an entry that is not valid
 * metadata (a name with "+", a value with a tab) is left out, not fatal.
 */
function metadataOf(headers: LocalUnaryRequest['headers'], logger: Logger): Metadata {
  const metadata = Metadata();
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || key.startsWith(':') || NOT_REQUEST_METADATA.has(key)) continue;
    const values = Array.isArray(value) ? value : [value];
    try {
      if (key.endsWith('-bin')) {
        for (const joined of values) for (const part of joined.split(',')) metadata.append(key, Buffer.from(part.trim(), 'base64'));
      } else {
        for (const part of values) metadata.append(key, part);
      }
    } catch (error) {
      metadata.delete(key);
      logger.debug({ err: error, key }, 'request header left out of the call metadata');
    }
  }
  return metadata;
}

/** Metadata to HTTP headers: `-bin` values in base64, repeated keys as arrays. */
function headersOf(metadata: Metadata): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [key, values] of metadata) {
    const encoded = values.map((value) => (typeof value === 'string' ? value : Buffer.from(value).toString('base64')));
    out[key] = encoded.length === 1 ? encoded[0] : encoded;
  }
  return out;
}

/**
 * Percent-encodes a grpc-message value as the gRPC HTTP/2 spec asks: bytes outside
 * printable ASCII, and '%' itself, become %XX of their UTF-8 encoding.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
