// Unary calls to an upstream service that runs in this process (the all-in-one).
// After admission, such a call runs the service's handler in-process with the
// bytes and metadata it would have been forwarded with; the answer is written to
// the client exactly as a forwarded one would be. Saves the loopback HTTP/2 hop,
// which cost more CPU per SendMessage than core's own handling of it.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import type { LocalUnaryHandler, LocalUnaryResponse } from '@im-mesh/platform';
import { Status } from 'nice-grpc';
import type { GrpcUpstreamName } from '../routing/upstreams.js';
import type { CallContext } from './call-context.js';
import { statusName, statusTrailers } from './grpc-status.js';

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
): LocalUnaryHandler | undefined {
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return undefined;
  return context.localCalls?.[upstream]?.unary(path);
}

/**
 * Reads a whole request body (one unary message, or a grpc-web request). Past
 * `limit` the rest is read and dropped, so the answer can still be sent.
 */
export function readBody(body: Readable, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        resolve('too-large');
      } else chunks.push(chunk);
    });
    body.on('end', () => resolve(size > limit ? 'too-large' : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // After 'end' this changes nothing (a promise settles once); before it, the client went away.
    body.on('close', () => resolve('aborted'));
    body.on('error', () => resolve('aborted'));
  });
}

export const REQUEST_TOO_LARGE = { status: Status.RESOURCE_EXHAUSTED, message: 'The request is larger than the edge accepts.' };

/**
 * Serves a native gRPC call in-process. `upstreamHeaders` are the headers the
 * call would have been forwarded with; `finish` records the status.
 */
export async function serveNativeLocally(
  context: CallContext,
  stream: ServerHttp2Stream,
  upstreamHeaders: IncomingHttpHeaders,
  handler: LocalUnaryHandler,
  finish: (status: string) => void,
): Promise<void> {
  const callerGone = new AbortController();
  stream.once('close', () => callerGone.abort());
  const body = await readBody(stream, context.maxRequestBytes);
  if (body === 'aborted') return;
  if (body === 'too-large') {
    if (!stream.destroyed && !stream.closed) respondTrailersOnly(stream, statusTrailers(REQUEST_TOO_LARGE));
    finish(statusName(REQUEST_TOO_LARGE.status));
    return;
  }
  const answer = await handler({ headers: upstreamHeaders, body, signal: callerGone.signal });
  if (stream.destroyed || stream.closed) return;
  writeNativeAnswer(stream, answer);
  finish(statusName(answer.trailers['grpc-status'] as string));
}

function writeNativeAnswer(stream: ServerHttp2Stream, answer: LocalUnaryResponse): void {
  if (answer.message === undefined && Object.keys(answer.headers).length === 0) {
    respondTrailersOnly(stream, answer.trailers);
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...answer.headers }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(answer.trailers));
  stream.end(answer.message);
}

function respondTrailersOnly(stream: ServerHttp2Stream, trailers: LocalUnaryResponse['trailers']): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
}
