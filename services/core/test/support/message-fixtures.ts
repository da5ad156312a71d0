// Helpers shared by the message-kind, event, list, read-count and search tests:
// content builders, a status assertion, the rows a refused call must leave
// alone, and a group conversation made directly in SQL (for tests of message
// features that do not need GroupService).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, Status } from 'nice-grpc';
import type { messageV1 } from '@im-mesh/contracts';
import type { CoreHarness } from './core-harness.js';

/** Awaits `call` and asserts it failed with `code` and a message matching `message`. */
export async function expectStatus(call: Promise<unknown>, code: Status, message: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    assert.equal(error.code, code, `${Status[error.code]}: ${error.details}`);
    assert.match(error.details, message);
    return true;
  });
}

/**
 * Every row a message change could touch, so "nothing changed" is one
 * deepEqual. The outbox counts by its id sequence (the relay deletes pushed rows).
 */
export async function messageRows(h: CoreHarness): Promise<unknown[]> {
  const [outboxIds] = await h.query('SELECT last_value, is_called FROM core.outbox_id_seq');
  const [state] = await h.query(
    `SELECT count(*) FILTER (WHERE recalled_at IS NOT NULL)::int AS recalled, COALESCE(sum(edit_count), 0)::int AS edits,
            COALESCE(sum(last_seq), 0)::int AS seqs
       FROM core.messages, LATERAL (SELECT sum(last_seq) AS last_seq FROM core.conversations) c`,
  );
  return [
    await h.count('messages'),
    await h.count('conversations'),
    await h.count('message_edits'),
    await h.count('message_reactions'),
    await h.count('conversation_pins'),
    await h.count('message_hides'),
    state,
    outboxIds,
  ];
}

/** A group conversation with these members, made in SQL (no GroupService). Returns its id. */
export async function groupConversation(h: CoreHarness, members: readonly string[]): Promise<string> {
  const id = `test-group:${randomUUID()}`;
  await h.query('INSERT INTO core.conversations (id, type) VALUES ($1, 2)', [id]);
  for (const userId of members) {
    await h.query('INSERT INTO core.conversation_members (conversation_id, user_id) VALUES ($1, $2)', [id, userId]);
  }
  return id;
}

export const FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f';

/**
 * Records `fileId` as a finished upload of `ownerId`, as CompleteUpload would,
 * so messages may reference it (the send path refuses files that are not).
 * Written in SQL: these tests are about message content, not uploads.
 */
export async function readyFile(h: CoreHarness, ownerId: string, fileId = FILE_ID): Promise<string> {
  await h.query(
    `INSERT INTO core.files (id, owner_id, kind, state, name, size_bytes, declared_type, content_type, blob_key, upload_expires_at, completed_at)
     VALUES ($1, $2, 1, 2, 'test-file', 1, 'application/octet-stream', 'application/octet-stream', $3, now(), now())`,
    [fileId, ownerId, `test/${fileId}`],
  );
  return fileId;
}

export function image(overrides: Partial<messageV1.ImageContent> = {}): messageV1.MessageContent {
  return {
    body: {
      $case: 'image',
      value: { fileId: FILE_ID, sizeBytes: 123_456, mimeType: 'image/png', width: 800, height: 600, thumbnail: undefined, ...overrides },
    },
  };
}

export function voice(overrides: Partial<messageV1.VoiceContent> = {}): messageV1.MessageContent {
  return { body: { $case: 'voice', value: { fileId: FILE_ID, sizeBytes: 40_000, durationMs: 5_000, mimeType: 'audio/aac', ...overrides } } };
}

export function video(overrides: Partial<messageV1.VideoContent> = {}): messageV1.MessageContent {
  return {
    body: {
      $case: 'video',
      value: {
        fileId: FILE_ID,
        sizeBytes: 5_000_000,
        mimeType: 'video/mp4',
        width: 1280,
        height: 720,
        durationMs: 30_000,
        thumbnail: { fileId: FILE_ID, width: 320, height: 180 },
        ...overrides,
      },
    },
  };
}

export function file(overrides: Partial<messageV1.FileContent> = {}): messageV1.MessageContent {
  return { body: { $case: 'file', value: { fileId: FILE_ID, name: 'report.pdf', sizeBytes: 2048, mimeType: 'application/pdf', ...overrides } } };
}

export function location(overrides: Partial<messageV1.LocationContent> = {}): messageV1.MessageContent {
  return { body: { $case: 'location', value: { latitude: 31.2304, longitude: 121.4737, title: '外滩', address: '上海市黄浦区', ...overrides } } };
}

export function custom(overrides: Partial<messageV1.CustomContent> = {}): messageV1.MessageContent {
  return { body: { $case: 'custom', value: { type: 'shop.order/v1', json: '{"order":42}', fallbackText: 'An order', ...overrides } } };
}

export function reply(quotedMessageId: string, replyText: string): messageV1.MessageContent {
  return { body: { $case: 'reply', value: { quotedMessageId, text: replyText, mentionUserIds: [], quotedSenderId: '', quotedSeq: 0 } } };
}

export function forward(sourceMessageId: string): messageV1.MessageContent {
  return { body: { $case: 'forward', value: { sourceMessageId, content: undefined, originalSenderId: '', originalSentAt: undefined } } };
}
