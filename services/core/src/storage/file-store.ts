// Files in core's schema: upload rows, their completion, and who may download
// them. The only code that reads or writes `files` and `message_files`.
import type { DataSource } from 'typeorm';
import { withConnection, type Sql } from './sql.js';

export const FILE_PENDING = 1;
export const FILE_READY = 2;
export const FILE_REJECTED = 3;

export interface FileRow {
  id: string;
  owner_id: string;
  kind: number;
  state: number;
  name: string;
  size_bytes: number;
  declared_type: string;
  content_type: string | null;
  blob_key: string;
  thumbnail_key: string | null;
  width: number;
  height: number;
  upload_expires_at: Date;
  created_at: Date;
}

export interface NewUpload {
  id: string;
  ownerId: string;
  kind: number;
  name: string;
  sizeBytes: number;
  declaredType: string;
  blobKey: string;
  uploadExpiresAt: Date;
}

export interface CompletedFacts {
  contentType: string;
  thumbnailKey: string | null;
  width: number;
  height: number;
}

const COLUMNS = `id, owner_id, kind, state, name, size_bytes::float8 AS size_bytes, declared_type, content_type, blob_key,
                 thumbnail_key, width, height, upload_expires_at, created_at`;

export class FileStore {
  constructor(private readonly database: DataSource) {}

  /**
   * Records a pending upload unless the owner already has `maxPending` pending,
   * unexpired uploads; false (nothing written) in that case. The count and the
   * insert are one statement, so concurrent requests cannot both slip under it
   * by much (at most one per concurrent call).
   */
  async createPending(upload: NewUpload, maxPending: number): Promise<boolean> {
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<{ id: string }>(
        `INSERT INTO files (id, owner_id, kind, name, size_bytes, declared_type, blob_key, upload_expires_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8
          WHERE (SELECT count(*) FROM files WHERE owner_id = $2 AND state = ${FILE_PENDING} AND upload_expires_at > now()) < $9
         RETURNING id`,
        [upload.id, upload.ownerId, upload.kind, upload.name, upload.sizeBytes, upload.declaredType, upload.blobKey, upload.uploadExpiresAt, maxPending],
      ),
    );
    return rows.length === 1;
  }

  async find(id: string): Promise<FileRow | undefined> {
    const [row] = await withConnection(this.database, (sql) => sql.rows<FileRow>(`SELECT ${COLUMNS} FROM files WHERE id = $1`, [id]));
    return row;
  }

  /** Pending -> ready; undefined when the row was no longer pending (a concurrent completion won). */
  async markReady(id: string, facts: CompletedFacts): Promise<FileRow | undefined> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<FileRow>(
        `UPDATE files SET state = ${FILE_READY}, content_type = $2, thumbnail_key = $3, width = $4, height = $5, completed_at = now()
          WHERE id = $1 AND state = ${FILE_PENDING}
         RETURNING ${COLUMNS}`,
        [id, facts.contentType, facts.thumbnailKey, facts.width, facts.height],
      ),
    );
    return row;
  }

  /** Pending -> rejected: the upload is spent. */
  async markRejected(id: string): Promise<void> {
    await withConnection(this.database, (sql) =>
      sql.rows(`UPDATE files SET state = ${FILE_REJECTED}, completed_at = now() WHERE id = $1 AND state = ${FILE_PENDING}`, [id]),
    );
  }

  /**
   * Deletes up to `limit` uploads abandoned for over `graceSeconds`: pending
   * ones whose URL expired that long ago (bytes may have arrived but nobody
   * completed them), and refused ones. Returns their blob keys so the caller
   * can delete the bytes. Rows locked by another instance's sweep are skipped.
   */
  async takeAbandoned(graceSeconds: number, limit: number): Promise<string[]> {
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<{ blob_key: string }>(
        `DELETE FROM files WHERE id IN (
           SELECT id FROM files
            WHERE (state = ${FILE_PENDING} AND upload_expires_at < now() - make_interval(secs => $1))
               OR (state = ${FILE_REJECTED} AND completed_at < now() - make_interval(secs => $1))
            LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING blob_key`,
        [graceSeconds, limit],
      ),
    );
    return rows.map((row) => row.blob_key);
  }

  /**
   * True when `userId` may download the ready file: they own it, it is some
   * user's current profile picture (profiles are public to signed-in users), or
   * a message referencing it, not recalled, lies in the user's visible window
   * of one of their conversations (after they joined, up to when they left).
   */
  async mayDownload(fileId: string, userId: string): Promise<boolean> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<{ allowed: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1 AND owner_id = $2)
             OR EXISTS (SELECT 1 FROM user_profiles WHERE avatar_file_id = $1)
             OR EXISTS (
                  SELECT 1 FROM message_files mf
                    JOIN messages m ON m.id = mf.message_id
                    JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
                   WHERE mf.file_id = $1 AND m.recalled_at IS NULL
                     AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)) AS allowed`,
        [fileId, userId],
      ),
    );
    return row?.allowed ?? false;
  }
}

/**
 * Inside a send transaction: which of `fileIds` the sender may put in a
 * message (ready files they own or may download). The rest are returned.
 */
export async function unusableFiles(tx: Sql, senderId: string, fileIds: readonly string[]): Promise<string[]> {
  if (fileIds.length === 0) return [];
  const rows = await tx.rows<{ id: string }>(
    `SELECT f.id FROM files f
      WHERE f.id = ANY($1::uuid[]) AND f.state = ${FILE_READY}
        AND (f.owner_id = $2
             OR EXISTS (SELECT 1 FROM user_profiles p WHERE p.avatar_file_id = f.id)
             OR EXISTS (SELECT 1 FROM message_files mf
                          JOIN messages m ON m.id = mf.message_id
                          JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
                         WHERE mf.file_id = f.id AND m.recalled_at IS NULL
                           AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)))`,
    [fileIds, senderId],
  );
  const usable = new Set(rows.map((row) => row.id));
  return fileIds.filter((id) => !usable.has(id));
}

/** Inside the send transaction: records that the message references the files. */
export async function recordFileReferences(tx: Sql, messageId: string, fileIds: readonly string[]): Promise<void> {
  if (fileIds.length === 0) return;
  await tx.rows(`INSERT INTO message_files (message_id, file_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`, [messageId, fileIds]);
}
