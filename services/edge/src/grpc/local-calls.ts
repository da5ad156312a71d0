// Unary calls to an upstream service that runs in this process (the all-in-one).
// After admission, such a call runs the service's handler in-process with the
// bytes and metadata it would have been forwarded with; the answer is written to
// the client exactly as a forwarded one would be. Saves the loopback HTTP/2 hop,
// which cost more CPU per SendMessage than core's own handling of it.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { FRAME_HEADER_BYTES, type LocalUnaryHandler, type LocalUnaryRequest, type LocalUnaryResponse } from '@im-mesh/platform';
import { Status } from 'nice-grpc';
import type { GrpcUpstreamName } from '../routing/upstreams.js';
import type { CallContext } from './call-context.js';
import { respondWithStatusOnly, statusName, statusTrailers } from './grpc-status.js';

/**
 * The in-process handler for a call to `path` on `upstream`, or undefined when
 * it must be forwarded: the upstream is elsewhere, the method streams, or the
 * client compressed the request (the gRPC server decompresses; this path does not).
 */
export function localUnaryHandler(
  context: CallContext,
  upstream: GrpcUpstreamName,
  path: string,
  headers: IncomingHttpHeaders,
): { handler: LocalUnaryHandler; maxMessageBytes: number } | undefined {
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return undefined;
  const service = context.localCalls?.[upstream];
  const handler = service?.unary(path);
  return service && handler && { handler, maxMessageBytes: service.maxMessageBytes };
}

/** A body past the limit: its first bytes are kept (a gRPC frame header says what was too large). */
export interface TooLargeBody {
  tooLarge: true;
  head: Buffer;
}

/**
 * Reads a whole request body (one unary message, or a grpc-web request). Past
 * `limit` the rest is read and dropped, so the answer can still be sent.
 */
export function readBody(body: Readable, limit: number): Promise<Buffer | TooLargeBody | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let head: Buffer | undefined;
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      if (!head || head.length < FRAME_HEADER_BYTES) head = head ? Buffer.concat([head, chunk]) : chunk;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        resolve({ tooLarge: true, head });
      } else chunks.push(chunk);
    });
    // A body past the limit settled already: a promise settles once.
    body.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // After 'end' this changes nothing; before it, the client went away.
    body.on('close', () => resolve('aborted'));
    body.on('error', () => resolve('aborted'));
  });
}

export const REQUEST_TOO_LARGE = { status: Status.RESOURCE_EXHAUSTED, message: 'The request is larger than the edge accepts.' };

/** Response headers of every gRPC answer, as grpc-js sends them (it decompresses requests the edge forwards). */
const GRPC_RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip', 'grpc-encoding': 'identity' };

/**
 * Serves a native gRPC call in-process. `upstreamHeaders` are the headers the
 * call would have been forwarded with; `finish` records the status.
 */
export async function serveNativeLocally(
  stream: ServerHttp2Stream,
  path: string,
  upstreamHeaders: IncomingHttpHeaders,
  local: { handler: LocalUnaryHandler; maxMessageBytes: number },
  finish: (status: string) => void,
): Promise<void> {
  const body = await readBody(stream, FRAME_HEADER_BYTES + local.maxMessageBytes);
  if (body === 'aborted' || stream.destroyed || stream.closed) return;
  if (!Buffer.isBuffer(body)) {
    // The service's own limit and grpc-js's sentences, as when the call is forwarded:
    // the first message is too large, or there is more after a message that fits.
    const declared = body.head.length >= FRAME_HEADER_BYTES ? body.head.readUInt32BE(1) : 0;
    const refusal =
      declared > local.maxMessageBytes
        ? { status: Status.RESOURCE_EXHAUSTED, message: `Received message larger than max (${declared} vs ${local.maxMessageBytes})` }
        : { status: Status.UNIMPLEMENTED, message: `Received a second request message for server streaming method ${path}` };
    respondWithStatusOnly(stream, statusTrailers(refusal));
    finish(statusName(refusal.status));
    return;
  }
  const answer = await callWhileConnected(local.handler, upstreamHeaders, body, stream);
  if (stream.destroyed || stream.closed) return;
  writeNativeAnswer(stream, answer);
  finish(statusName(answer.trailers['grpc-status'] as string));
}

/**
 * Runs the handler with a cancellation that fires if `connection` closes before
 * the answer is ready. Not after: aborting costs a DOMException with a stack
 * trace, and every stream closes once answered. The caller checks that the
 * connection is still open before calling.
 */
export async function callWhileConnected(
  handler: LocalUnaryHandler,
  headers: LocalUnaryRequest['headers'],
  body: Buffer,
  connection: { once(event: 'close', listener: () => void): unknown; off(event: 'close', listener: () => void): unknown },
): Promise<LocalUnaryResponse> {
  const cancellation = new AbortController();
  const onClose = () => cancellation.abort();
  connection.once('close', onClose);
  try {
    return await handler({ headers, body, cancellation });
  } finally {
    connection.off('close', onClose);
  }
}

function writeNativeAnswer(stream: ServerHttp2Stream, answer: LocalUnaryResponse): void {
  if (answer.message === undefined && Object.keys(answer.headers).length === 0) {
    // Status-only answers carry no encoding headers, as grpc-js sends them.
    respondWithStatusOnly(stream, answer.trailers);
    return;
  }
  stream.respond({ ...GRPC_RESPONSE_HEADERS, ...answer.headers }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(answer.trailers));
  stream.end(answer.message);
}
