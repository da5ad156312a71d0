// TypingForwarder: takes a device's TypingUpdates (a ClientFrame on a stream or
// WebSocket, or the typing field of a grpc-web Ack RPC) to core
// (im.internal.v1.TypingService), which pushes TypingIndicators to the other
// participants' live devices over the push bus. Cheap by design: per device and
// conversation, a "typing" update goes out at most once per interval and a
// repeated state is dropped, so a client that sends on every keystroke costs
// one relay per second; "stopped typing" goes out once. Relay failures other
// than a refusal are logged and swallowed: a typing hint is not worth an error.
import type { connectV1, internalV1 } from '@im-mesh/contracts';
import { AppError, ErrorCode, type Logger } from '@im-mesh/platform';
import { ClientError, Status } from 'nice-grpc';

export interface TypingRelayClient {
  relayTyping(request: internalV1.RelayTypingRequest): Promise<internalV1.RelayTypingResponse>;
}

export interface Typist {
  userId: string;
  deviceId: string;
}

/** Devices remembered per node; the least recently active is forgotten beyond this (it may then relay once more). */
const TRACKED_DEVICES = 50_000;
/** Conversations remembered per device, likewise. */
const TRACKED_CONVERSATIONS = 64;

interface LastRelayed {
  typing: boolean;
  /** now() of the relay, in ms. */
  at: number;
}

export class TypingForwarder {
  private readonly relayed = new Map<string, Map<string, LastRelayed>>();
  /**
   * The relay in flight per device and conversation. The next one waits for it:
   * two unary calls may be served in either order, and "stopped typing" overtaken
   * by "typing" would leave the others seeing a typist who has stopped.
   */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly core: TypingRelayClient,
    private readonly logger: Logger,
    /** Least time between two "typing" relays of one device and conversation, in ms. */
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Relays the update unless it repeats one relayed within the interval.
   * Resolves once relayed (or dropped); rejects with an AppError when core
   * refuses it (NOT_FOUND: not a member; INVALID_ARGUMENT).
   */
  async forward(typist: Typist, update: connectV1.TypingUpdate): Promise<void> {
    const deviceKey = `${typist.userId}\u0000${typist.deviceId}`;
    const byConversation = this.relayed.get(deviceKey) ?? new Map<string, LastRelayed>();
    // Re-inserting keeps both maps in least-recently-active order for eviction.
    this.relayed.delete(deviceKey);
    this.relayed.set(deviceKey, byConversation);
    if (this.relayed.size > TRACKED_DEVICES) this.relayed.delete(this.relayed.keys().next().value!);

    const last = byConversation.get(update.conversationId);
    const now = this.now();
    if (last && last.typing === update.typing && (!update.typing || now - last.at < this.minIntervalMs)) return;
    byConversation.delete(update.conversationId);
    byConversation.set(update.conversationId, { typing: update.typing, at: now });
    if (byConversation.size > TRACKED_CONVERSATIONS) byConversation.delete(byConversation.keys().next().value!);

    const flightKey = `${deviceKey}\u0000${update.conversationId}`;
    const previous = this.inFlight.get(flightKey);
    const relay = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(() =>
      this.core.relayTyping({ userId: typist.userId, deviceId: typist.deviceId, conversationId: update.conversationId, typing: update.typing }),
    );
    this.inFlight.set(flightKey, relay);
    try {
      await relay;
    } catch (error) {
      if (error instanceof ClientError && (error.code === Status.NOT_FOUND || error.code === Status.INVALID_ARGUMENT)) {
        // Forget it, so a corrected retry is not mistaken for a repeat.
        byConversation.delete(update.conversationId);
        const code = error.code === Status.NOT_FOUND ? ErrorCode.NotFound : ErrorCode.InvalidArgument;
        throw new AppError(code, error.details, { reason: 'TYPING_REFUSED' });
      }
      this.logger.warn({ err: error, conversationId: update.conversationId }, 'typing indicator not relayed');
    } finally {
      if (this.inFlight.get(flightKey) === relay) this.inFlight.delete(flightKey);
    }
  }
}
