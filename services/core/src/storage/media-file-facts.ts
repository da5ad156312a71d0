// What the files table knows about uploads a message references (kind, the
// content type sniffed from the bytes, size, image dimensions), so the send path
// can check that an image message names an image upload of that size and type.
// Readiness and who may use a file are file-references.ts's (files/).
import type { Sql } from './sql.js';

export interface MediaFileFacts {
  id: string;
  /** im.file.v1.FileKind number. */
  kind: number;
  content_type: string | null;
  size_bytes: number;
  /** 0 when not an image (or not measured). */
  width: number;
  height: number;
}

export async function mediaFileFacts(tx: Sql, fileIds: readonly string[]): Promise<Map<string, MediaFileFacts>> {
  if (fileIds.length === 0) return new Map();
  const rows = await tx.rows<MediaFileFacts>(
    'SELECT id, kind, content_type, size_bytes, width, height FROM files WHERE id = ANY($1::uuid[])',
    [fileIds],
  );
  return new Map(rows.map((row) => [row.id, row]));
}
