// The send policy of the social graph (see messages/send-policy.ts), run on
// the send's connection before anything is written:
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
    const [refusal] = await this.checkMany(tx, [attempt]);
    if (refusal) throw refusal;
  }

  /** The verdicts of many attempts with one lookup of the recipients' block lists and settings. */
  async checkMany(tx: Sql, attempts: readonly DirectSendAttempt[]): Promise<Array<AppError | undefined>> {
    const peers = attempts.map((attempt) => (attempt.conversationId.startsWith('sys:') ? undefined : (attempt.peerId ?? directPeerOf(attempt.conversationId, attempt.senderId))));
    const asked = attempts.flatMap((attempt, i) => (peers[i] ? [{ senderId: attempt.senderId, recipientId: peers[i]! }] : []));
    const gates = await this.store.directMessageGates(tx, asked);
    let next = 0;
    return attempts.map((attempt, i) => {
      if (attempt.conversationId.startsWith('sys:')) {
        return AppError.permissionDenied('System conversations are written by the server only.', 'SYSTEM_CONVERSATION');
      }
      if (!peers[i]) return undefined;
      const gate = gates[next++]!;
      if (gate.blocked) return AppError.permissionDenied('This user does not accept messages from you.', 'BLOCKED_BY_RECIPIENT');
      if (!gate.allowsStrangers && !gate.friends) {
        return AppError.permissionDenied(
          'This user accepts messages from friends only. Send a friend request first.',
          'STRANGER_MESSAGES_REFUSED',
        );
      }
      return undefined;
    });
  }
}
