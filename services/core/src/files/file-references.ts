// Which files a message references, and the two steps of the send transaction
// that keep GetDownloadUrl's answer right: refuse files the sender may not use,
// then record (message, file) pairs in message_files.
//
// The rule is structural, so every content kind that carries files is covered
// without a list to keep in step: any field named `file_id` anywhere in the
// content (an image's file, a video's thumbnail, the content inside a forward)
// references a file.
import { AppError } from '@im-mesh/platform';
import { recordFileReferences, unusableFiles } from '../storage/file-store.js';
import type { Sql } from '../storage/sql.js';

/** Most files one message may reference. */
const MAX_FILES_PER_MESSAGE = 20;

/** Distinct lowercase file ids found in decoded content (any depth, any `fileId` field). */
export function fileIdsOf(content: unknown): string[] {
  const found = new Set<string>();
  const visit = (value: unknown, depth: number): void => {
    // Content is protobuf-shaped and shallow; the bound only guards against cycles.
    if (depth > 16 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    for (const [key, field] of Object.entries(value)) {
      if (key === 'fileId' && typeof field === 'string' && field !== '') found.add(field.toLowerCase());
      else visit(field, depth + 1);
    }
  };
  visit(content, 0);
  return [...found];
}

/**
 * Inside the send transaction, before the message is written: FAILED_PRECONDITION
 * when the content names a file that is not ready or that the sender may not
 * see (forwarding a file from a conversation the sender is in is fine).
 */
export async function checkFileReferences(tx: Sql, senderId: string, fileIds: readonly string[]): Promise<void> {
  if (fileIds.length > MAX_FILES_PER_MESSAGE) {
    throw AppError.invalidArgument(`A message can reference at most ${MAX_FILES_PER_MESSAGE} files.`, 'TOO_MANY_FILES');
  }
  const unusable = await unusableFiles(tx, senderId, fileIds);
  if (unusable.length > 0) {
    throw AppError.failedPrecondition(
      `The file ${unusable[0]} is not a completed upload you can use. Upload it with FileService (CreateUpload, PUT, CompleteUpload) first.`,
      'FILE_NOT_USABLE',
    );
  }
}

/** Inside the send transaction, once the message row exists. */
export function recordMessageFiles(tx: Sql, messageId: string, fileIds: readonly string[]): Promise<void> {
  return recordFileReferences(tx, messageId, fileIds);
}
