// BlobStore: file bytes (uploads, thumbnails, group avatars) and the signed,
// expiring URLs clients use to move them without passing through our services.
//
// Contract (every adapter passes blob-store.contract.ts):
// - `put` stores bytes under a key with a content type; `get` returns them, or
//   undefined for a missing key; `readHead` returns only the first bytes (all of
//   a shorter blob), for sniffing a type without loading a large file; `stat`
//   returns size and type without the bytes; `delete` is idempotent.
// - `presignUpload` returns a URL that accepts one HTTP PUT of exactly
//   `contentLength` bytes of `contentType` to that key until `expiresInSeconds`
//   have passed. `presignDownload` returns a URL that serves the object by GET
//   until it expires. A URL for one key never grants access to another, and any
//   change to the URL (key, expiry, size, type) makes it invalid.
// - Keys are relative paths of [A-Za-z0-9._/-], without "..".

export interface BlobInfo {
  key: string;
  size: number;
  contentType: string;
}

export interface PresignedUpload {
  url: string;
  method: 'PUT';
  /** Headers the client must send with the PUT. */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface BlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  readHead(key: string, maxBytes: number): Promise<Uint8Array | undefined>;
  stat(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
  presignUpload(key: string, options: { contentType: string; contentLength: number; expiresInSeconds: number }): Promise<PresignedUpload>;
  presignDownload(key: string, options: { expiresInSeconds: number }): Promise<string>;
  close(): Promise<void>;
}
