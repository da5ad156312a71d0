// Thin gRPC handlers of im.connect.v1.ConnectService. Each call becomes a
// GrpcStreamSession fed to the same dispatch as WebSocket frames:
// - Connect (native clients, bidi): the first frame must be auth within the auth
//   deadline, else the stream ends UNAUTHENTICATED.
// - Subscribe (grpc-web, server stream): the caller's token comes from the
//   `authorization: Bearer` metadata; the first response is Authenticated.
// - Ack (grpc-web, unary): applies an ack on a Subscribe (or any) connection of
//   the caller, and counts as its heartbeat. The edge spreads unary calls over
//   every node, so when the connection lives on another node the ack is
//   forwarded there over the push bus (see delivery/ack-forwarder.ts).
import { connectV1 } from '@im-mesh/contracts';
import {
  AppError,
  callerOf,
  ErrorCode,
  requireAccessToken,
  type AccessTokenVerifier,
  type Logger,
  type OptionalAuthContext,
} from '@im-mesh/platform';
import type { ServerMiddleware, ServiceImplementation } from 'nice-grpc';
import type { AckForwarder } from './delivery/ack-forwarder.js';
import type { ConnectionHub } from './sessions/connection-hub.js';
import { ackRefusal, isValidConversationId, type Dispatch } from './sessions/dispatch.js';
import type { TypingForwarder } from './sessions/typing-forwarder.js';
import { GrpcStreamSession } from './transports/grpc-stream-session.js';

export interface ConnectServiceDependencies {
  hub: ConnectionHub;
  dispatch: Dispatch;
  /** Takes Ack RPCs for connections held by other nodes there. */
  forwarder: AckForwarder;
  /** Relays AckRequest.typing (typing needs no connection: core relays by user and conversation). */
  typing?: TypingForwarder;
  logger: Logger;
  /** Frames a stream may have queued for its client. */
  maxStreamQueue: number;
  /** Largest ClientFrame, in bytes, as on WebSockets. */
  maxFrameBytes: number;
}

const CONNECT_METHOD_PATH = `/${connectV1.ConnectServiceDefinition.fullName}/Connect`;

/**
 * Requires the bearer token on every method but Connect, whose token arrives in
 * its first frame. Runs after the error boundary, so refusals become statuses.
 */
export function connectServiceAuth(verifier: AccessTokenVerifier): ServerMiddleware<OptionalAuthContext> {
  const required = requireAccessToken(verifier);
  return async function* authenticate(call, context) {
    if (call.method.path === CONNECT_METHOD_PATH) return yield* call.next(call.request, { ...context, auth: undefined });
    return yield* required(call, context);
  };
}

export function connectService(
  deps: ConnectServiceDependencies,
): ServiceImplementation<typeof connectV1.ConnectServiceDefinition, OptionalAuthContext> {
  const { hub, dispatch, forwarder, typing, logger, maxStreamQueue, maxFrameBytes } = deps;

  /** The typing part of an Ack RPC: refused like the frame, with the RPC's status. */
  async function relayTyping(caller: { userId: string; deviceId: string }, update: connectV1.TypingUpdate | undefined): Promise<void> {
    if (!update) return;
    if (!isValidConversationId(update.conversationId)) {
      throw AppError.invalidArgument('typing.conversation_id must be 1 to 128 characters without control characters.', 'TYPING_INVALID');
    }
    if (!typing) throw AppError.failedPrecondition('This node does not relay typing indicators.', 'TYPING_UNSUPPORTED');
    await typing.forward(caller, update);
  }

  // gRPC's own message limit is the server's (4 MiB); frames get the WebSocket
  // limit too, so no transport lets a client send more. Frames are small, so
  // encoding one again to measure it is cheap.
  const frameTooLarge = (frame: connectV1.ClientFrame) =>
    connectV1.ClientFrame.encode(frame).finish().length > maxFrameBytes
      ? new AppError(ErrorCode.ResourceExhausted, `Frames are limited to ${maxFrameBytes} bytes; split the ack.`, { reason: 'FRAME_TOO_LARGE' })
      : undefined;

  /** Feeds the client's frames to dispatch, one at a time, until it stops sending. */
  async function readFrames(session: GrpcStreamSession, requests: AsyncIterable<connectV1.ConnectRequest>): Promise<void> {
    try {
      for await (const request of requests) {
        if (!session.isOpen) return;
        if (!request.frame) {
          session.sendError(AppError.invalidArgument('Every ConnectRequest must carry a frame.', 'FRAME_MALFORMED'));
          session.close({ kind: 'frame_malformed', message: 'A ConnectRequest carried no frame.' });
          return;
        }
        const tooLarge = frameTooLarge(request.frame);
        if (tooLarge) {
          session.sendError(tooLarge);
          session.close({ kind: 'frame_too_large', message: tooLarge.message });
          return;
        }
        await dispatch(session, request.frame);
      }
      session.close({ kind: 'client_closed', message: 'The client finished its request stream.' });
    } catch (error) {
      // Cancelled or broken call: the session's abort listener usually got there first.
      logger.debug({ err: error, peer: session.peer }, 'connect request stream ended');
      session.close({ kind: 'client_closed', message: 'The request stream broke.' });
    }
  }

  return {
    async *connect(requests, context) {
      const session = new GrpcStreamSession('grpc-connect', context.peer, hub.sessionEnvironment, maxStreamQueue, context.signal);
      if (hub.opened(session)) void readFrames(session, requests);
      try {
        for await (const frame of session.frames()) yield { frame };
      } finally {
        session.close({ kind: 'client_closed', message: 'The stream ended.' });
      }
    },

    async *subscribe(_request, context) {
      const caller = callerOf(context);
      const session = new GrpcStreamSession('grpc-subscribe', context.peer, hub.sessionEnvironment, maxStreamQueue, context.signal);
      if (hub.opened(session)) void hub.attach(session, caller);
      try {
        for await (const frame of session.frames()) yield { frame };
      } finally {
        session.close({ kind: 'client_closed', message: 'The stream ended.' });
      }
    },

    async ack(request, context) {
      const caller = callerOf(context);
      if (!request.connectionId) {
        throw AppError.invalidArgument('connection_id is required: use the one from the Authenticated frame.', 'CONNECTION_ID_MISSING');
      }
      // The same answer for "no such connection" and "not yours", so ids of
      // other users' connections cannot be probed.
      const notFound = () =>
        AppError.notFound('No live connection with this id belongs to you; reconnect and use the new connection_id.', 'CONNECTION_NOT_FOUND');
      // Every AckRequest is a heartbeat; an empty ack carries only that.
      const ack = request.ack ?? { messageIds: [], delivered: [] };
      const frame: connectV1.ClientFrame = { kind: { $case: 'ack', value: ack } };
      const session = hub.find(request.connectionId);
      if (session) {
        if (session.userId !== caller.userId || session.deviceId !== caller.deviceId) throw notFound();
        const tooLarge = frameTooLarge(frame);
        if (tooLarge) throw tooLarge;
        await dispatch(session, frame, { errors: 'throw' });
        await relayTyping(caller, request.typing);
        return { serverTimeMs: Date.now() };
      }
      // Not here: presence names the node holding the caller's own connection.
      // The ack is checked here, since the other node can only tell the stream.
      const tooLarge = frameTooLarge(frame);
      if (tooLarge) throw tooLarge;
      const refusal = ackRefusal(ack);
      if (refusal) throw refusal;
      const outcome = await forwarder.forward({ userId: caller.userId, deviceId: caller.deviceId }, request.connectionId, ack);
      if (outcome === 'not_found') throw notFound();
      await relayTyping(caller, request.typing);
      return { serverTimeMs: Date.now() };
    },
  };
}
