// TypingForwarder: takes a connection's TypingUpdate frames to core
// (im.internal.v1.TypingService), which pushes TypingIndicators to the other
// participants' live devices over the push bus. Cheap by design: per connection
// and conversation, a "typing" update goes out at most once per interval and a
// repeated state is dropped, so a client that sends on every keystroke costs
// one relay per second; "stopped typing" always goes out once. Nothing waits on
// the relay: failures are logged, and a refusal (not a member, bad id) reaches
// the client as ServerFrame.error.
import type { connectV1, internalV1 } from '@im-mesh/contracts';
import { AppError, ErrorCode, type Logger } from '@im-mesh/platform';
import { ClientError, Status } from 'nice-grpc';
import type { ClientSession } from './client-session.js';

export interface TypingRelayClient {
  relayTyping(request: internalV1.RelayTypingRequest): Promise<internalV1.RelayTypingResponse>;
}

/** Conversations tracked per connection; the oldest is forgotten beyond this (it may then relay once more). */
const TRACKED_CONVERSATIONS = 64;

interface LastRelayed {
  typing: boolean;
  /** performance.now() of the relay. */
  at: number;
}

export class TypingForwarder {
  private readonly relayed = new WeakMap<ClientSession, Map<string, LastRelayed>>();

  constructor(
    private readonly core: TypingRelayClient,
    private readonly logger: Logger,
    /** Least time between two "typing" relays of one connection and conversation, in ms. */
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Relays the update unless it repeats one relayed within the interval. Never throws. */
  forward(session: ClientSession, update: connectV1.TypingUpdate): void {
    const identity = session.identity;
    if (!identity) return;
    let byConversation = this.relayed.get(session);
    if (!byConversation) {
      byConversation = new Map();
      this.relayed.set(session, byConversation);
    }
    const last = byConversation.get(update.conversationId);
    const now = this.now();
    if (last && last.typing === update.typing && (!update.typing || now - last.at < this.minIntervalMs)) return;
    // Re-inserting keeps the map in least-recently-relayed order for eviction.
    byConversation.delete(update.conversationId);
    byConversation.set(update.conversationId, { typing: update.typing, at: now });
    if (byConversation.size > TRACKED_CONVERSATIONS) byConversation.delete(byConversation.keys().next().value!);

    this.core
      .relayTyping({ userId: identity.userId, deviceId: identity.deviceId, conversationId: update.conversationId, typing: update.typing })
      .catch((error: unknown) => {
        if (error instanceof ClientError && (error.code === Status.NOT_FOUND || error.code === Status.INVALID_ARGUMENT)) {
          // Forget it, so a corrected retry is not mistaken for a repeat.
          byConversation.delete(update.conversationId);
          const code = error.code === Status.NOT_FOUND ? ErrorCode.NotFound : ErrorCode.InvalidArgument;
          session.sendError(new AppError(code, error.details, { reason: 'TYPING_REFUSED' }));
          return;
        }
        this.logger.warn({ err: error, conversationId: update.conversationId }, 'typing indicator not relayed');
      });
  }
}
