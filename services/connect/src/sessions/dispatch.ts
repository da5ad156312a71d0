// dispatch: the one place where client frames take effect, whichever transport
// carried them (WebSocket, gRPC Connect, or the Ack RPC of a Subscribe stream).
// Before authentication only `auth` is accepted; afterwards every frame counts as
// a heartbeat, `ping` is answered with `pong`, `ack` becomes delivery
// watermarks for core and `typing` is relayed through core to the other
// participants (TypingForwarder). Refusals become ServerFrame.error (or, for unary callers, a
// thrown AppError); the fatal ones also close the connection.
import type { connectV1 } from '@im-mesh/contracts';
import { AppError, ErrorCode, type AccessTokenVerifier, type Logger } from '@im-mesh/platform';
import type { DeliveryReporter } from '../delivery/delivery-reporter.js';
import type { ConnectMetrics } from '../metrics.js';
import type { ClientSession, CloseKind } from './client-session.js';
import type { ConnectionHub } from './connection-hub.js';
import type { TypingForwarder } from './typing-forwarder.js';

export interface DispatchOptions {
  /**
   * 'frame' (streams): refusals go to the client as ServerFrame.error.
   * 'throw' (the unary Ack RPC): refusals are thrown, to become the call's status.
   */
  errors?: 'frame' | 'throw';
}

export type Dispatch = (session: ClientSession, frame: connectV1.ClientFrame, options?: DispatchOptions) => Promise<void>;

export interface DispatchDependencies {
  hub: ConnectionHub;
  verifier: AccessTokenVerifier;
  reporter: DeliveryReporter;
  /** Relays TypingUpdate frames to core; without it typing frames are refused. */
  typing?: TypingForwarder;
  metrics: ConnectMetrics;
  logger: Logger;
}

/** Frames a client may pipeline behind its auth frame before the token is checked. */
const MAX_FRAMES_WAITING_FOR_AUTH = 16;
/** Longest conversation id accepted in DeliveredUpTo. */
const MAX_CONVERSATION_ID_LENGTH = 128;
/** C0 controls (NUL included), DEL and C1 controls: never part of an id, and PostgreSQL text refuses NUL. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A DeliveredUpTo core can store: a printable conversation id of 1 to 128
 * characters and a seq that is a positive safe integer. One bad entry would make
 * core refuse the whole batch it travels in, other devices' watermarks included.
 */
function isValidDelivered(entry: connectV1.DeliveredUpTo): boolean {
  return isValidConversationId(entry.conversationId) && Number.isSafeInteger(entry.seq) && entry.seq >= 1;
}

/** A printable conversation id of 1 to 128 characters. */
export function isValidConversationId(id: string): boolean {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_CONVERSATION_ID_LENGTH && !CONTROL_CHARACTER.test(id);
}

/**
 * Why core could not take this ack, or undefined when it can. Shared with the Ack
 * RPC, which checks an ack before forwarding it to the node holding the connection.
 */
export function ackRefusal(ack: connectV1.Ack): AppError | undefined {
  if (ack.delivered.every(isValidDelivered)) return undefined;
  return AppError.invalidArgument(
    `Every delivered entry needs a conversation id of 1 to ${MAX_CONVERSATION_ID_LENGTH} characters without control characters, and a whole seq of 1 or more.`,
    'ACK_INVALID',
  );
}

const TOKEN_REFUSED = 'The access token is invalid or expired. Log in again or refresh the token.';

export function createDispatch(deps: DispatchDependencies): Dispatch {
  const { hub, verifier, reporter, metrics, logger, typing } = deps;

  /** Tells the client why, then closes when `close` names a reason. */
  function refuse(session: ClientSession, error: AppError, close: CloseKind | undefined, options: DispatchOptions): void {
    if (options.errors === 'throw') {
      if (close) session.close({ kind: close, message: error.message });
      throw error;
    }
    session.sendError(error);
    if (close) session.close({ kind: close, message: error.message });
  }

  async function authenticate(session: ClientSession, frame: connectV1.ClientFrame, options: DispatchOptions): Promise<void> {
    if (frame.kind?.$case !== 'auth') {
      refuse(
        session,
        AppError.unauthenticated('Authenticate first: the first frame must be auth carrying an access token.', 'AUTH_REQUIRED'),
        'unauthenticated',
        options,
      );
      return;
    }
    session.state = 'authenticating';
    let claims;
    try {
      claims = await verifier.verify(frame.kind.value.accessToken);
    } catch (error) {
      const unavailable = error instanceof AppError && error.code === ErrorCode.Unavailable;
      if (unavailable) logger.warn({ err: error.cause }, 'cannot verify access tokens: key service unreachable');
      // One reason for every token problem, so a client learns nothing about why.
      const refusal = unavailable ? (error as AppError) : AppError.unauthenticated(TOKEN_REFUSED, 'TOKEN_INVALID');
      refuse(session, refusal, unavailable ? 'unavailable' : 'unauthenticated', options);
      return;
    }
    await hub.attach(session, claims);
  }

  function acknowledge(session: ClientSession, ack: connectV1.Ack, options: DispatchOptions): void {
    const identity = session.identity!;
    const refusal = ackRefusal(ack);
    if (refusal) {
      // Bad input changes nothing: the whole ack is refused, message ids included.
      refuse(session, refusal, undefined, options);
      return;
    }
    for (const messageId of ack.messageIds) {
      // Ids this connection was not pushed (duplicates, stale, or someone else's)
      // are ignored: an ack only ever moves this device's own watermarks.
      const position = session.ledger.takeAwaited(messageId);
      if (position) reporter.record(identity.userId, identity.deviceId, position.conversationId, position.seq);
    }
    for (const entry of ack.delivered) reporter.record(identity.userId, identity.deviceId, entry.conversationId, entry.seq);
  }

  function handleAuthenticated(session: ClientSession, frame: connectV1.ClientFrame, options: DispatchOptions): void {
    if (!session.isOpen || session.state !== 'ready') return;
    hub.heard(session);
    const kind = frame.kind;
    switch (kind?.$case) {
      case 'ping':
        session.send({ kind: { $case: 'pong', value: { clientTimeMs: kind.value.clientTimeMs, serverTimeMs: Date.now() } } });
        return;
      case 'typing': {
        const update = kind.value;
        if (!isValidConversationId(update.conversationId)) {
          refuse(
            session,
            AppError.invalidArgument(`conversation_id must be 1 to ${MAX_CONVERSATION_ID_LENGTH} characters without control characters.`, 'TYPING_INVALID'),
            undefined,
            options,
          );
          return;
        }
        if (!typing) {
          refuse(session, AppError.failedPrecondition('This node does not relay typing indicators.', 'TYPING_UNSUPPORTED'), undefined, options);
          return;
        }
        // Not awaited: a typing hint never holds up the connection's other frames.
        typing.forward(session.identity!, update).catch((error: unknown) => {
          if (error instanceof AppError) session.sendError(error);
        });
        return;
      }
      case 'ack':
        acknowledge(session, kind.value, options);
        return;
      case 'auth':
        refuse(
          session,
          AppError.failedPrecondition('This connection is already authenticated; open a new connection to switch accounts.', 'ALREADY_AUTHENTICATED'),
          undefined,
          options,
        );
        return;
      case undefined:
        refuse(
          session,
          AppError.invalidArgument('The frame carries no kind this server understands (auth, ping, ack or typing).', 'FRAME_UNSUPPORTED'),
          undefined,
          options,
        );
        return;
    }
  }

  return async function dispatch(session, frame, options = {}) {
    if (!session.isOpen) return;
    metrics.framesIn.inc({ transport: session.transport, kind: frame.kind?.$case ?? 'unknown' });
    if (!session.allowance.take()) {
      refuse(
        session,
        new AppError(ErrorCode.ResourceExhausted, 'Too many frames: slow down and reconnect.', { reason: 'RATE_LIMITED' }),
        'rate_limited',
        options,
      );
      return;
    }
    switch (session.state) {
      case 'connecting':
        session.authentication = authenticate(session, frame, options);
        return session.authentication;
      case 'authenticating': {
        // The client pipelined frames behind its auth frame: handle them once the
        // token is checked, in order, but only a few.
        if (session.framesWaitingForAuth >= MAX_FRAMES_WAITING_FOR_AUTH) {
          refuse(
            session,
            AppError.failedPrecondition('Wait for the authenticated frame before sending more.', 'AUTH_IN_PROGRESS'),
            'unauthenticated',
            options,
          );
          return;
        }
        session.framesWaitingForAuth += 1;
        try {
          await session.authentication;
        } finally {
          session.framesWaitingForAuth -= 1;
        }
        return handleAuthenticated(session, frame, options);
      }
      case 'ready':
        return handleAuthenticated(session, frame, options);
      case 'closed':
        return;
    }
  };
}
