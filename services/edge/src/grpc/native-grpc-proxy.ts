// Native gRPC through the edge: each incoming HTTP/2 stream becomes one stream on
// the upstream's session. Headers, data and trailers pass through unchanged (the
// edge never decodes messages), with backpressure both ways; a client cancel
// cancels the upstream stream, and an upstream failure becomes UNAVAILABLE.
// A unary call to a service in this process (the all-in-one) is served by
// local-calls.ts instead, once admitted.
import {
  constants,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { Status } from 'nice-grpc';
import { clientAddress, forwardedFor } from '../admission/admission.js';
import type { GrpcUpstreamName } from '../routing/upstreams.js';
import type { CallContext } from './call-context.js';
import { localUnaryHandler, serveNativeLocally } from './local-calls.js';
import {
  cannotOpenUpstream,
  HOP_BY_HOP_HEADERS,
  respondWithStatusOnly,
  statusName,
  statusTrailers,
  upstreamBroke,
  upstreamUnavailable,
  type EdgeRejection,
} from './grpc-status.js';

export function proxyNativeGrpc(context: CallContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on('error', () => {
    // A client reset: the 'close' handler below cancels the upstream side.
  });
  const contentType = String(headers['content-type'] ?? '');
  if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
    stream.respond({ ':status': 415, 'content-type': 'text/plain; charset=utf-8' });
    stream.end('This HTTP/2 endpoint speaks gRPC only; use HTTP/1.1 for grpc-web, WebSocket and /healthz.\n');
    return;
  }
  const path = String(headers[':path'] ?? '');
  const record = context.metrics.callStarted('grpc');
  let routeLabel = 'unrouted';
  stream.once('close', () => record.finish(routeLabel, 'CANCELLED'));

  void context.admission
    .admitCall({ clientIp: clientAddress(stream.session?.socket?.remoteAddress), path, authorization: single(headers.authorization) })
    .then((decision) => {
      routeLabel = decision.admitted ? decision.route.label : decision.routeLabel;
      if (stream.destroyed || stream.closed) return;
      if (!decision.admitted) {
        respondWithStatusOnly(stream, statusTrailers(decision));
        record.finish(routeLabel, statusName(decision.status));
        return;
      }
      return forward(context, stream, headers, decision.route.upstream, (status) => record.finish(routeLabel, status));
    })
    .catch((error: unknown) => {
      // Without this, a surprise in admission or in starting the call would be an
      // unhandled rejection, which ends the process (in the all-in-one, every service).
      context.logger.error({ err: error, route: routeLabel }, 'edge could not handle a gRPC call');
      record.finish(routeLabel, statusName(CALL_FAILED.status));
      if (stream.destroyed || stream.closed) return;
      try {
        if (stream.headersSent) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        else respondWithStatusOnly(stream, statusTrailers(CALL_FAILED));
      } catch {
        stream.destroy();
      }
    });
}

const CALL_FAILED: EdgeRejection = { status: Status.INTERNAL, message: 'The edge could not handle this call. Try again.' };

async function forward(
  context: CallContext,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  upstreamName: GrpcUpstreamName,
  finish: (status: string) => void,
): Promise<void> {
  const upstreamHeaders: IncomingHttpHeaders = {
    ...passThrough(headers),
    'x-forwarded-for': forwardedFor(headers['x-forwarded-for'], stream.session?.socket?.remoteAddress),
  };
  const path = String(headers[':path']);
  const local = localUnaryHandler(context, upstreamName, path, headers);
  if (local) return serveNativeLocally(stream, path, upstreamHeaders, local, finish);
  let upstream: ClientHttp2Stream;
  try {
    // The request body waits in the client stream (flow control holds the
    // client back) until an instance is connected.
    upstream = await context.router.openStream(upstreamName, { ...upstreamHeaders, ':method': 'POST', ':path': headers[':path'] });
  } catch (error) {
    context.logger.warn({ err: error, upstream: upstreamName }, 'cannot open upstream stream');
    context.metrics.upstreamError(upstreamName);
    if (stream.destroyed || stream.closed) return;
    respondWithStatusOnly(stream, statusTrailers(cannotOpenUpstream(upstreamName, error)));
    finish('UNAVAILABLE');
    return;
  }
  if (stream.destroyed || stream.closed) {
    // The client left while the instance was chosen.
    upstream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  let trailers: OutgoingHttpHeaders | undefined;
  let failed = false;

  const fail = (rejection: EdgeRejection) => {
    // Nothing to do once the client is gone or already has its status.
    if (failed || stream.destroyed || stream.closed || (stream.headersSent && stream.writableEnded)) return;
    failed = true;
    context.metrics.upstreamError(upstreamName);
    if (!stream.headersSent) {
      respondWithStatusOnly(stream, statusTrailers(rejection));
      finish(statusName(rejection.status));
    } else if (!stream.writableEnded) {
      // Headers already went out: end the data and let 'wantTrailers' send the status.
      trailers = statusTrailers(rejection);
      stream.end();
    }
  };

  upstream.on('response', (response) => {
    if (stream.destroyed || stream.closed) return;
    const forwarded = { ...passThrough(response), ':status': response[':status'] ?? 200 };
    if (response['grpc-status'] !== undefined) {
      // Trailers-only: the whole answer is in this one header block.
      stream.respond(forwarded, { endStream: true });
      finish(statusName(single(response['grpc-status'])));
      upstream.resume();
      return;
    }
    stream.respond(forwarded, { waitForTrailers: true });
    upstream.pipe(stream);
  });
  upstream.on('trailers', (received) => {
    trailers = passThrough(received);
  });
  stream.on('wantTrailers', () => {
    const sent = trailers ?? statusTrailers(upstreamBroke(upstreamName));
    stream.sendTrailers(sent);
    finish(statusName(single(sent['grpc-status'] as string | string[] | undefined)));
  });
  upstream.on('error', (error) => {
    context.logger.debug({ err: error, upstream: upstreamName }, 'upstream stream failed');
    fail(stream.headersSent ? upstreamBroke(upstreamName) : upstreamUnavailable(upstreamName));
  });
  upstream.on('close', () => {
    // A reset without an 'error' (RST_STREAM from the upstream) must still end the call.
    if (!stream.headersSent || (!stream.writableEnded && trailers === undefined && !upstream.readableEnded)) {
      fail(stream.headersSent ? upstreamBroke(upstreamName) : upstreamUnavailable(upstreamName));
    }
  });
  stream.on('close', () => {
    if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
  });
  stream.pipe(upstream);
}

/** Every header except pseudo-headers, hop-by-hop ones and `date` (each hop sets its own). */
function passThrough(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP_HEADERS.has(name) || name === 'date') continue;
    out[name] = value;
  }
  return out;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
