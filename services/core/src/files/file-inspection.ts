// What an uploaded file really is: its type sniffed from the bytes with
// file-type (the client's word is never trusted), and for images the pixel size
// (after EXIF orientation, as people see it) and a WebP thumbnail made with sharp.
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';

export interface Inspection {
  /** Sniffed type, or undefined when the bytes match no known binary format (plain text, CSV...). */
  sniffedType?: string;
}

export interface ImageFacts {
  width: number;
  height: number;
  thumbnail: { bytes: Uint8Array; width: number; height: number; contentType: 'image/webp' };
}

/** Largest decoded image accepted (pixels), so a small file cannot expand into gigabytes of memory. */
const MAX_INPUT_PIXELS = 100_000_000;

export async function sniffType(bytes: Uint8Array): Promise<string | undefined> {
  return (await fileTypeFromBuffer(bytes))?.mime;
}

/**
 * Dimensions and a thumbnail (longest side `thumbnailPixels`, never enlarged)
 * of an image; undefined when sharp cannot decode it, which makes the upload
 * invalid whatever its first bytes claimed.
 */
export async function inspectImage(bytes: Uint8Array, thumbnailPixels: number): Promise<ImageFacts | undefined> {
  try {
    // Animated images: the first frame only, for both the size and the thumbnail.
    const image = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, animated: false, failOn: 'error' });
    const metadata = await image.metadata();
    const width = metadata.autoOrient?.width ?? metadata.width;
    const height = metadata.autoOrient?.height ?? metadata.height;
    if (!width || !height) return undefined;
    const { data, info } = await image
      .autoOrient()
      .resize(thumbnailPixels, thumbnailPixels, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toBuffer({ resolveWithObject: true });
    return { width, height, thumbnail: { bytes: new Uint8Array(data), width: info.width, height: info.height, contentType: 'image/webp' } };
  } catch {
    // Corrupt or truncated image data: the caller refuses the upload with a clear reason.
    return undefined;
  }
}
