// The send policy of the social graph (see messages/send-policy.ts), run inside
// the send transaction before anything is written:
// - nobody writes into a system conversation: the server alone does;
// - in a direct conversation, a sender the recipient blocked is refused with
//   PERMISSION_DENIED (BLOCKED_BY_RECIPIENT), and a sender who is not the
//   recipient's friend is refused (STRANGER_MESSAGES_REFUSED) when the
//   recipient does not accept messages from strangers.
import { AppError } from '@im-mesh/platform';
import { directPeerOf } from '../messages/direct-conversation.js';
import type { SocialStore } from '../storage/social-store.js';
import type { Sql } from '../storage/sql.js';

/** What the policy needs to know of a send; the shape of messages/send-policy.ts's SendAttempt. */
export interface DirectSendAttempt {
  conversationId: string;
  senderId: string;
  /** The other user of a direct conversation, when the sender named them. */
  peerId?: string;
}

export class SocialSendPolicy {
  constructor(private readonly store: SocialStore) {}

  async check(tx: Sql, attempt: DirectSendAttempt): Promise<void> {
    if (attempt.conversationId.startsWith('sys:')) {
      throw AppError.permissionDenied('System conversations are written by the server only.', 'SYSTEM_CONVERSATION');
    }
    const peer = attempt.peerId ?? directPeerOf(attempt.conversationId, attempt.senderId);
    if (!peer) return;
    const gate = await this.store.directMessageGate(tx, attempt.senderId, peer);
    if (gate.blocked) {
      throw AppError.permissionDenied('This user does not accept messages from you.', 'BLOCKED_BY_RECIPIENT');
    }
    if (!gate.allowsStrangers && !gate.friends) {
      throw AppError.permissionDenied(
        'This user accepts messages from friends only. Send a friend request first.',
        'STRANGER_MESSAGES_REFUSED',
      );
    }
  }
}

