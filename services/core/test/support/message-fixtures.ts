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

/** Uploads the content builders below reference (readyFiles records them). */
export const FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f';
export const VOICE_FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e01';
export const VIDEO_FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e02';
export const THUMBNAIL_FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e03';
export const DOCUMENT_FILE_ID = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e04';

interface UploadFacts {
  id: string;
  /** im.file.v1.FileKind: 1 image, 2 voice, 3 video, 4 file. */
  kind: number;
  contentType: string;
  sizeBytes: number;
  width?: number;
  height?: number;
}

const UPLOADS: readonly UploadFacts[] = [
  { id: FILE_ID, kind: 1, contentType: 'image/png', sizeBytes: 123_456, width: 800, height: 600 },
  { id: VOICE_FILE_ID, kind: 2, contentType: 'audio/aac', sizeBytes: 40_000 },
  { id: VIDEO_FILE_ID, kind: 3, contentType: 'video/mp4', sizeBytes: 5_000_000 },
  { id: THUMBNAIL_FILE_ID, kind: 1, contentType: 'image/jpeg', sizeBytes: 9_000, width: 320, height: 180 },
  { id: DOCUMENT_FILE_ID, kind: 4, contentType: 'application/pdf', sizeBytes: 2048 },
];

/**
 * Records the uploads the builders below reference as finished uploads of
 * `ownerId`, with the facts CompleteUpload would have found (kind, sniffed type,
 * size, dimensions), so messages may reference them. Written in SQL: these
 * tests are about message content, not uploads.
 */
export async function readyFiles(h: CoreHarness, ownerId: string): Promise<void> {
  for (const upload of UPLOADS) {
    await h.query(
      `INSERT INTO core.files (id, owner_id, kind, state, name, size_bytes, declared_type, content_type, blob_key, width, height,
                               upload_expires_at, completed_at)
       VALUES ($1, $2, $3, 2, 'test-file', $4, $5, $5, $6, $7, $8, now(), now())`,
      [upload.id, ownerId, upload.kind, upload.sizeBytes, upload.contentType, `test/${upload.id}`, upload.width ?? 0, upload.height ?? 0],
    );
  }
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
  return { body: { $case: 'voice', value: { fileId: VOICE_FILE_ID, sizeBytes: 40_000, durationMs: 5_000, mimeType: 'audio/aac', ...overrides } } };
}

export function video(overrides: Partial<messageV1.VideoContent> = {}): messageV1.MessageContent {
  return {
    body: {
      $case: 'video',
      value: {
        fileId: VIDEO_FILE_ID,
        sizeBytes: 5_000_000,
        mimeType: 'video/mp4',
        width: 1280,
        height: 720,
        durationMs: 30_000,
        thumbnail: { fileId: THUMBNAIL_FILE_ID, width: 320, height: 180 },
        ...overrides,
      },
    },
  };
}

export function file(overrides: Partial<messageV1.FileContent> = {}): messageV1.MessageContent {
  return { body: { $case: 'file', value: { fileId: DOCUMENT_FILE_ID, name: 'report.pdf', sizeBytes: 2048, mimeType: 'application/pdf', ...overrides } } };
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
