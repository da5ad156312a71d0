// System messages from internal teams (im.admin.v1.MessageAdminService): a
// SystemContent notice appended to a user's system conversation ("sys:<user>")
// or to a group's conversation, through the same insert as every send (seq,
// message, outbox row; the relay is woken after the commit), so it is pushed live and synced.
//
// The sender is the server (the nil UUID, device "server"); the caller's
// client_msg_id is namespaced by its service account, so two teams cannot
// collide and a retry finds the first result.
import { AppError, isUuid, uuidv7 } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import { SERVER_DEVICE_ID, SERVER_SENDER_ID } from '../groups/group-events.js';
import { CONTENT_KIND } from '../messages/content-kind.js';
import { CONVERSATION_GROUP } from '../storage/group-store.js';
import { storeMessageIn } from '../storage/message-store.js';
import { CONVERSATION_SYSTEM, systemConversationId } from '../storage/social-store.js';
import { inTransaction, isUniqueViolation, type Sql } from '../storage/sql.js';
import type { DataSource } from 'typeorm';
import type { UserDirectory } from '../upstream/user-directory.js';

/** Longest notice, in characters (as SystemContent documents). */
export const MAX_SYSTEM_TEXT_CHARS = 2_000;
const CODE_PATTERN = /^[A-Za-z0-9_.-]{0,64}$/;
const CLIENT_MSG_ID_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** Control characters other than tab and line breaks. */
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export interface SystemMessageRequest {
  /** The service account sending it. */
  clientId: string;
  target: { kind: 'user' | 'group'; id: string } | undefined;
  text: string;
  code: string;
  clientMsgId: string;
}

export interface SentSystemMessage {
  messageId: string;
  conversationId: string;
  seq: number;
  duplicate: boolean;
}

export class SystemMessages {
  constructor(
    private readonly database: DataSource,
    private readonly directory: UserDirectory,
    private readonly onStored: () => void,
  ) {}

  async send(request: SystemMessageRequest): Promise<SentSystemMessage> {
    const target = request.target;
    if (!target || !target.id) throw AppError.invalidArgument('Say who gets the message: set user_id or group_id.', 'TARGET_MISSING');
    const text = checkText(request.text);
    if (!CODE_PATTERN.test(request.code)) {
      throw AppError.invalidArgument('code is at most 64 letters, digits, "_", "." or "-".', 'CODE_INVALID');
    }
    if (!CLIENT_MSG_ID_PATTERN.test(request.clientMsgId)) {
      throw AppError.invalidArgument('client_msg_id must be 1 to 64 printable ASCII characters without spaces (a UUID is a good choice).', 'CLIENT_MSG_ID_INVALID');
    }
    if (target.kind === 'user') {
      if (!isUuid(target.id) || !(await this.directory.existing([target.id])).has(target.id)) {
        throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');
      }
    }
    const clientMsgId = `admin:${request.clientId}:${request.clientMsgId}`;
    const content = messageV1.MessageContent.encode({ body: { $case: 'system', value: { text, code: request.code } } }).finish();
    try {
      const sent = await inTransaction(this.database, (sql) => this.store(sql, target, clientMsgId, content));
      if (!sent.duplicate) this.onStored();
      return sent;
    } catch (error) {
      // Two retries raced past the duplicate check: the other one stored it.
      if (!isUniqueViolation(error, 'messages_sender_client_msg_id_key')) throw error;
      const first = await inTransaction(this.database, (sql) => findFirst(sql, clientMsgId));
      if (!first) throw error;
      return first;
    }
  }

  private async store(sql: Sql, target: { kind: 'user' | 'group'; id: string }, clientMsgId: string, content: Uint8Array): Promise<SentSystemMessage> {
    const earlier = await findFirst(sql, clientMsgId);
    if (earlier) return earlier;
    let conversationId: string;
    if (target.kind === 'user') {
      conversationId = systemConversationId(target.id);
      await sql.rows(`INSERT INTO conversations (id, type) VALUES ($1, ${CONVERSATION_SYSTEM}) ON CONFLICT DO NOTHING`, [conversationId]);
      await sql.rows(`INSERT INTO conversation_members (conversation_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [conversationId, target.id]);
    } else {
      const [group] = await sql.rows<{ id: string }>(
        `SELECT c.id FROM conversations c JOIN groups g ON g.id = c.id
          WHERE c.id = $1 AND c.type = ${CONVERSATION_GROUP} AND g.dissolved_at IS NULL`,
        [target.id],
      );
      if (!group) throw AppError.notFound('There is no group with that id (or it was dissolved).', 'GROUP_NOT_FOUND');
      conversationId = group.id;
    }
    const stored = await storeMessageIn(sql, {
      messageId: uuidv7(),
      conversationId,
      senderId: SERVER_SENDER_ID,
      senderDeviceId: SERVER_DEVICE_ID,
      clientMsgId,
      content,
      kind: CONTENT_KIND.system,
      searchText: null,
    });
    if (!stored) throw AppError.notFound('The conversation vanished while the message was stored; try again.', 'CONVERSATION_NOT_FOUND');
    return { messageId: stored.messageId, conversationId, seq: Number(stored.seq), duplicate: false };
  }
}

async function findFirst(sql: Sql, clientMsgId: string): Promise<SentSystemMessage | undefined> {
  const [row] = await sql.rows<{ id: string; conversation_id: string; seq: number }>(
    'SELECT id, conversation_id, seq FROM messages WHERE sender_id = $1 AND client_msg_id = $2',
    [SERVER_SENDER_ID, clientMsgId],
  );
  return row && { messageId: row.id, conversationId: row.conversation_id, seq: Number(row.seq), duplicate: true };
}

function checkText(text: string): string {
  const chars = [...text].length;
  if (chars < 1 || chars > MAX_SYSTEM_TEXT_CHARS || text.trim() === '' || FORBIDDEN_CONTROL.test(text)) {
    throw AppError.invalidArgument(
      `text must be 1 to ${MAX_SYSTEM_TEXT_CHARS} characters, not only spaces, without control characters other than tabs and line breaks.`,
      'TEXT_INVALID',
    );
  }
  return text;
}
