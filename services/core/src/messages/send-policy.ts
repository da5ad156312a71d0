// SendPolicy: who may send to whom, decided just before the message is written. Block
// lists and stranger settings (files/social) and group membership and mutes
// (groups) each plug in one policy; MessageSender runs them in order after the
// sender is known to be a member and before anything is written, so a refusal
// (an AppError: PERMISSION_DENIED, FAILED_PRECONDITION...) stores nothing.
import type { AppError } from '@im-mesh/platform';
import type { Sql } from '../storage/sql.js';

export interface SendAttempt {
  conversationId: string;
  senderId: string;
  /** For a direct conversation: the other user. */
  peerId?: string;
  /** The MessageContent field number being sent (content-kind.ts). */
  kind: number;
}

export interface SendPolicy {
  /**
   * Throws an AppError to refuse. `tx` is the send's connection: its transaction
   * when the send writes more than its message (MessageStore.writeIn), else
   * statements of their own; under READ COMMITTED a check reads the same either way.
   */
  check(tx: Sql, attempt: SendAttempt): Promise<void>;
  /**
   * The verdicts of `check` for many attempts at once (the sends of a shared
   * transaction), with one statement whatever their number: per attempt, by
   * position, its refusal or undefined.
   */
  checkMany(tx: Sql, attempts: readonly SendAttempt[]): Promise<Array<AppError | undefined>>;
}

/**
 * RecallAuthority: whether `actorId` may recall other people's messages in a
 * conversation (group owners and admins). Groups provide it; without it only
 * senders recall their own messages.
 */
export interface RecallAuthority {
  mayRecallOthers(tx: Sql, conversationId: string, actorId: string): Promise<boolean>;
}

export const SENDERS_ONLY: RecallAuthority = { mayRecallOthers: async () => false };
