// gRPC status plumbing shared by the native proxy and the grpc-web bridge:
// the status an edge decision produces, and how it is written on the wire.
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { encodeGrpcMessage } from '@im-mesh/platform';
import { Status } from 'nice-grpc';
import { UpstreamUnavailableError } from '../routing/upstream-pool.js';

/** A call the edge answers itself, without reaching an upstream. */
export interface EdgeRejection {
  status: Status;
  /** Shown to the caller: a sentence a person understands. */
  message: string;
}

/** "UNAUTHENTICATED" for 16; "UNKNOWN" for anything unexpected (metrics labels stay bounded). */
export function statusName(code: number | string | undefined): string {
  const numeric = typeof code === 'string' ? Number(code) : code;
  if (numeric === undefined || !Number.isInteger(numeric)) return 'UNKNOWN';
  return Status[numeric] ?? 'UNKNOWN';
}

/**
 * A status-only answer (gRPC's Trailers-Only response): the status and trailer
 * metadata ride in the one header block, and the stream ends.
 */
export function respondWithStatusOnly(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...trailers }, { endStream: true });
}

/** The grpc-status/grpc-message pair of a rejection, ready to send as trailers. */
export function statusTrailers(rejection: EdgeRejection): Record<string, string> {
  return { 'grpc-status': String(rejection.status), 'grpc-message': encodeGrpcMessage(rejection.message) };
}

export function upstreamUnavailable(upstream: string): EdgeRejection {
  return { status: Status.UNAVAILABLE, message: `The ${upstream} service is unreachable right now. Try again shortly.` };
}

/**
 * The answer when no upstream stream could be opened: the router's own sentence
 * (it says whether every instance is failing), or the generic one for anything else.
 */
export function cannotOpenUpstream(upstream: string, error: unknown): EdgeRejection {
  if (error instanceof UpstreamUnavailableError) return { status: Status.UNAVAILABLE, message: error.message };
  return upstreamUnavailable(upstream);
}

export function upstreamBroke(upstream: string): EdgeRejection {
  return { status: Status.UNAVAILABLE, message: `The ${upstream} service closed the call before it finished. Try again.` };
}

/** Headers that describe one hop and must not be copied to the next (RFC 9110 7.6.1, RFC 9113 8.2.2). */
export const HOP_BY_HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  'content-length',
]);
