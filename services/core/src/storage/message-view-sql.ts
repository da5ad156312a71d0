// How a message reads to one viewer: the stored row plus its current state
// (recalled, edited, reactions, pinned, deleted for the viewer). One SELECT list
// shared by pull, pins and search, so every read shows the same state.
import type { MessageRow } from './message-store.js';

export interface ReactionRow {
  emoji: string;
  count: number;
  users: string[];
  mine: boolean;
}

export interface MessageViewRow extends MessageRow {
  kind: number;
  recalled: boolean;
  recalled_by: string | null;
  edit_count: number;
  edited_at: Date | null;
  hidden: boolean;
  pinned: boolean;
  /** Most-used emoji first (ties: first used first); null when none. */
  reactions: ReactionRow[] | null;
}

/** Reactions shown per emoji: the first 20 users. */
export const REACTION_USERS_SHOWN = 20;

/** The columns of a MessageViewRow, in SELECT order. */
const VIEW_COLUMNS = [
  'id',
  'conversation_id',
  'seq',
  'sender_id',
  'sender_device_id',
  'client_msg_id',
  'content',
  'created_at',
  'kind',
  'recalled',
  'recalled_by',
  'edit_count',
  'edited_at',
  'hidden',
  'pinned',
  'reactions',
] as const;

/**
 * The SELECT list of a MessageViewRow for messages aliased `alias`, seen by the
 * user in parameter `$<viewer>` (a uuid). With a `prefix`, every output column
 * is named `<prefix><column>` (to embed a message in a wider row; see
 * fromPrefixed).
 */
export function messageViewColumns(viewer: number, alias = 'm', prefix = ''): string {
  const v = `$${viewer}::uuid`;
  const expressions: Record<(typeof VIEW_COLUMNS)[number], string> = {
    id: `${alias}.id`,
    conversation_id: `${alias}.conversation_id`,
    seq: `${alias}.seq`,
    sender_id: `${alias}.sender_id`,
    sender_device_id: `${alias}.sender_device_id`,
    client_msg_id: `${alias}.client_msg_id`,
    content: `${alias}.content`,
    created_at: `${alias}.created_at`,
    kind: `${alias}.kind`,
    recalled: `${alias}.recalled_at IS NOT NULL`,
    recalled_by: `${alias}.recalled_by`,
    edit_count: `${alias}.edit_count`,
    edited_at: `${alias}.edited_at`,
    hidden: `EXISTS (SELECT 1 FROM message_hides h WHERE h.user_id = ${v} AND h.message_id = ${alias}.id)`,
    pinned: `EXISTS (SELECT 1 FROM conversation_pins p WHERE p.conversation_id = ${alias}.conversation_id AND p.message_id = ${alias}.id)`,
    reactions: `(SELECT json_agg(json_build_object('emoji', r.emoji, 'count', r.n, 'users', r.users, 'mine', r.mine)
                                 ORDER BY r.n DESC, r.first_at)
                   FROM (SELECT emoji, count(*)::int AS n, min(created_at) AS first_at, bool_or(user_id = ${v}) AS mine,
                                (array_agg(user_id::text ORDER BY created_at))[1:${REACTION_USERS_SHOWN}] AS users
                           FROM message_reactions WHERE message_id = ${alias}.id GROUP BY emoji) r)`,
  };
  return VIEW_COLUMNS.map((column) => `${expressions[column]} AS ${prefix}${column}`).join(',\n       ');
}

/** The MessageViewRow embedded with `prefix` in `row`, or null when its id is null (no message). */
export function fromPrefixed(row: Record<string, unknown>, prefix: string): MessageViewRow | null {
  if (row[`${prefix}id`] === null || row[`${prefix}id`] === undefined) return null;
  const view: Record<string, unknown> = {};
  for (const column of VIEW_COLUMNS) view[column] = row[`${prefix}${column}`];
  return view as unknown as MessageViewRow;
}

/**
 * The seq window a member row `cm` may read: after the seq they joined at, and
 * up to the seq of the event that removed them (left_seq, set by groups) if
 * they are no longer a member.
 */
export const VISIBLE_TO_MEMBER = `m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)`;
