// FileService: uploads straight to the blob store through signed URLs, checked
// on completion, and short-lived download URLs for those allowed to see a file.
//
// Blob keys are chosen here ("files/<owner>/<file id>"), never from the
// client's file name. An upload is spent once CompleteUpload refused it: the
// row is marked rejected and the bytes deleted, so a retry needs a new upload.
import { AppError, ErrorCode, isUuid, uuidv7, type AccessTokenClaims, type BlobStore, type Logger } from '@im-mesh/platform';
import { fileV1 } from '@im-mesh/contracts';
import { FILE_READY, FILE_REJECTED, type FileRow, type FileStore } from '../storage/file-store.js';
import { inspectImage, sniffType } from './file-inspection.js';
import { checkUploadRequest, kindRules, type FileConfig, type KindRule, type KnownFileKind } from './file-limits.js';

/** What file-type reads at most to recognise a format. */
const SNIFF_BYTES = 4100;

/** Same words whether the file does not exist or the caller may not see it. */
export const FILE_NOT_FOUND = 'File not found, or you cannot see it.';

export class FileUploads {
  private readonly rules: ReadonlyMap<KnownFileKind, KindRule>;

  constructor(
    private readonly store: FileStore,
    private readonly blobs: BlobStore,
    private readonly config: FileConfig,
    private readonly logger: Logger,
  ) {
    this.rules = kindRules(config);
  }

  async createUpload(caller: AccessTokenClaims, request: fileV1.CreateUploadRequest): Promise<fileV1.CreateUploadResponse> {
    const upload = checkUploadRequest(this.rules, request);
    const id = uuidv7();
    const blobKey = `files/${caller.userId}/${id}`;
    // Sign first: a store that refuses the grant (say a size over BLOBS_MAX_BYTES) leaves no row behind.
    const presigned = await this.blobs.presignUpload(blobKey, {
      contentType: upload.contentType,
      contentLength: upload.sizeBytes,
      expiresInSeconds: this.config.CORE_FILE_UPLOAD_URL_SECONDS,
    }).catch((error: unknown) => {
      if (error instanceof AppError && error.code === ErrorCode.InvalidArgument) {
        throw AppError.invalidArgument(`This file cannot be stored: ${error.message}`, 'FILE_TOO_LARGE');
      }
      throw error;
    });
    const created = await this.store.createPending(
      {
        id,
        ownerId: caller.userId,
        kind: upload.kind,
        name: upload.name,
        sizeBytes: upload.sizeBytes,
        declaredType: upload.contentType,
        blobKey,
        uploadExpiresAt: presigned.expiresAt,
      },
      this.config.CORE_FILE_MAX_PENDING_UPLOADS,
    );
    if (!created) {
      throw new AppError(
        ErrorCode.ResourceExhausted,
        `You have ${this.config.CORE_FILE_MAX_PENDING_UPLOADS} uploads in progress. Complete them, or wait until they expire, first.`,
        { reason: 'TOO_MANY_PENDING_UPLOADS' },
      );
    }
    return { uploadId: id, uploadUrl: presigned.url, method: presigned.method, headers: presigned.headers, expiresAt: presigned.expiresAt };
  }

  async completeUpload(caller: AccessTokenClaims, request: fileV1.CompleteUploadRequest): Promise<fileV1.CompleteUploadResponse> {
    const row = await this.ownUpload(caller, request.uploadId);
    if (row.state === FILE_READY) return { file: fileInfoOf(row) };
    if (row.state === FILE_REJECTED) {
      throw AppError.failedPrecondition('This upload was refused earlier. Start a new one with CreateUpload.', 'UPLOAD_REJECTED');
    }
    const stored = await this.blobs.stat(row.blob_key);
    if (!stored) {
      if (row.upload_expires_at.getTime() <= Date.now()) {
        throw AppError.failedPrecondition('The upload expired before any bytes arrived. Start a new one with CreateUpload.', 'UPLOAD_EXPIRED');
      }
      // Not spent: the client may still PUT before the URL expires and complete again.
      throw AppError.failedPrecondition('Nothing has been uploaded yet. PUT the bytes to upload_url first.', 'UPLOAD_MISSING');
    }
    if (stored.size !== row.size_bytes) {
      return this.reject(row, `The upload has ${stored.size} bytes but ${row.size_bytes} were declared.`, 'UPLOAD_SIZE_MISMATCH');
    }
    // Images are decoded whole (their size is capped by their kind's limit);
    // other kinds only need the head that file-type reads to sniff a format.
    const image = this.rules.get(row.kind as KnownFileKind)?.image ?? false;
    const bytes = image ? await this.blobs.get(row.blob_key) : await this.blobs.readHead(row.blob_key, SNIFF_BYTES);
    if (!bytes) throw AppError.unavailable('The uploaded file could not be read right now; try again.');
    return this.finish(row, bytes);
  }

  async getDownloadUrl(caller: AccessTokenClaims, request: fileV1.GetDownloadUrlRequest): Promise<fileV1.GetDownloadUrlResponse> {
    const fileId = fileIdFrom(request.fileId);
    const row = await this.store.find(fileId);
    if (!row || row.state !== FILE_READY || !(await this.store.mayDownload(fileId, caller.userId))) {
      throw AppError.notFound(FILE_NOT_FOUND, 'FILE_NOT_FOUND');
    }
    const key = request.thumbnail ? row.thumbnail_key : row.blob_key;
    if (!key) throw AppError.notFound('This file has no thumbnail; only images do.', 'THUMBNAIL_NOT_FOUND');
    const seconds = this.config.CORE_FILE_DOWNLOAD_URL_SECONDS;
    const url = await this.blobs.presignDownload(key, { expiresInSeconds: seconds });
    return { url, expiresAt: new Date(Date.now() + seconds * 1000), file: fileInfoOf(row) };
  }

  /** The caller's own upload; NOT_FOUND (same words) for another user's or a missing one. */
  private async ownUpload(caller: AccessTokenClaims, uploadId: string): Promise<FileRow> {
    const id = fileIdFrom(uploadId, 'upload_id');
    const row = await this.store.find(id);
    if (!row || row.owner_id !== caller.userId) throw AppError.notFound('Upload not found, or it is not yours.', 'UPLOAD_NOT_FOUND');
    return row;
  }

  /** Checks the bytes against the kind, makes the thumbnail, and marks the file ready. */
  private async finish(row: FileRow, bytes: Uint8Array): Promise<fileV1.CompleteUploadResponse> {
    const rule = this.rules.get(row.kind as KnownFileKind);
    if (!rule) throw new Error(`file ${row.id} has kind ${row.kind}, which has no rule`);
    const sniffed = await sniffType(bytes);
    let contentType: string;
    if (rule.types) {
      if (!sniffed || !rule.types.has(sniffed)) {
        const found = sniffed ? `looks like ${sniffed}` : 'is not in a format we recognise';
        return this.reject(row, `The uploaded content ${found}, which is not accepted as ${rule.noun}.`, 'UPLOAD_TYPE_NOT_ALLOWED');
      }
      if (sniffed !== row.declared_type) {
        return this.reject(row, `The uploaded content is ${sniffed}, not the ${row.declared_type} declared.`, 'UPLOAD_TYPE_MISMATCH');
      }
      contentType = sniffed;
    } else {
      // Any file is accepted; unknown binary and text formats are served as opaque bytes.
      contentType = sniffed ?? 'application/octet-stream';
    }

    let thumbnailKey: string | null = null;
    let width = 0;
    let height = 0;
    if (rule.image) {
      const facts = await inspectImage(bytes, this.config.CORE_FILE_THUMBNAIL_PIXELS);
      if (!facts) return this.reject(row, 'The uploaded image could not be decoded; it may be damaged.', 'UPLOAD_IMAGE_INVALID');
      ({ width, height } = facts);
      thumbnailKey = `${row.blob_key}.thumbnail.webp`;
      await this.blobs.put(thumbnailKey, facts.thumbnail.bytes, facts.thumbnail.contentType);
    }
    const ready = await this.store.markReady(row.id, { contentType, thumbnailKey, width, height });
    if (ready) return { file: fileInfoOf(ready) };
    // Another CompleteUpload of the same upload finished first; answer as it did.
    const winner = await this.store.find(row.id);
    if (winner?.state === FILE_READY) return { file: fileInfoOf(winner) };
    throw AppError.failedPrecondition('This upload was refused. Start a new one with CreateUpload.', 'UPLOAD_REJECTED');
  }

  private async reject(row: FileRow, message: string, reason: string): Promise<never> {
    await this.store.markRejected(row.id);
    // The row no longer points anywhere usable; a failed delete only leaves unreachable bytes.
    await this.blobs.delete(row.blob_key).catch((error: unknown) => this.logger.warn({ err: error, fileId: row.id }, 'could not delete a refused upload'));
    throw AppError.failedPrecondition(`${message} Start a new upload with CreateUpload.`, reason);
  }
}

function fileIdFrom(value: string, field = 'file_id'): string {
  const id = value.trim().toLowerCase();
  if (!isUuid(id)) throw AppError.invalidArgument(`${field} must be the id FileService returned (a UUID).`, 'FILE_ID_INVALID');
  return id;
}

export function fileInfoOf(row: FileRow): fileV1.FileInfo {
  return {
    fileId: row.id,
    kind: row.kind as fileV1.FileKind,
    ownerId: row.owner_id,
    name: row.name,
    sizeBytes: Number(row.size_bytes),
    contentType: row.content_type ?? row.declared_type,
    width: row.width,
    height: row.height,
    hasThumbnail: row.thumbnail_key !== null,
    createdAt: row.created_at,
  };
}

