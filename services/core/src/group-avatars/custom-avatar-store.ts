// Custom group pictures: the uploaded bytes must decode as a PNG, JPEG or WebP
// image of sane dimensions; they are re-encoded (which drops metadata and
// anything hidden in the file) as a 256x256 PNG and stored in the blob store.
import { AppError, uuidv7, type BlobStore } from '@im-mesh/platform';
import sharp from 'sharp';
import type { CustomAvatarStore } from '../groups/group-lifecycle.js';
import { DEFAULT_AVATAR_SIZE } from './compose-group-avatar.js';
import { avatarKeyPrefix } from './avatar-keys.js';

export const MAX_CUSTOM_AVATAR_BYTES = 2 * 1024 * 1024;
const MAX_SOURCE_PIXELS = 40_000_000;
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp']);

export class BlobCustomAvatarStore implements CustomAvatarStore {
  constructor(private readonly blobs: BlobStore) {}

  async store(groupId: string, image: Uint8Array): Promise<string> {
    if (image.length > MAX_CUSTOM_AVATAR_BYTES) {
      throw AppError.invalidArgument(`A group picture can be at most ${MAX_CUSTOM_AVATAR_BYTES} bytes (2 MiB).`, 'AVATAR_TOO_LARGE');
    }
    let png: Buffer;
    try {
      const source = sharp(image, { limitInputPixels: MAX_SOURCE_PIXELS });
      const { format } = await source.metadata();
      if (!format || !ACCEPTED_FORMATS.has(format)) throw new Error(`format ${format ?? 'unknown'}`);
      png = await source.rotate().resize(DEFAULT_AVATAR_SIZE, DEFAULT_AVATAR_SIZE, { fit: 'cover' }).png().toBuffer();
    } catch {
      throw AppError.invalidArgument('image must be a PNG, JPEG or WebP picture that decodes.', 'AVATAR_IMAGE_INVALID');
    }
    const key = `${avatarKeyPrefix(groupId)}/custom-${uuidv7()}.png`;
    await this.blobs.put(key, png, 'image/png');
    return key;
  }
}
