// Renders a group picture: up to nine member tiles (their own picture, or an
// initial tile) placed by avatarLayout on a light grey square, as a PNG.
import sharp from 'sharp';
import { avatarLayout, MAX_AVATAR_TILES } from './avatar-layout.js';
import { initialTileSvg } from './initial-tile.js';

export interface AvatarMember {
  userId: string;
  /** Shown as an initial when there is no picture: display name, else username. */
  label: string;
  /** The member's own picture (any format sharp reads), when they have one. */
  image?: Uint8Array;
}

export const DEFAULT_AVATAR_SIZE = 256;
const BACKGROUND = { r: 232, g: 232, b: 232, alpha: 1 };

/** A PNG `size` pixels square for the first nine of `members` (at least one). */
export async function composeGroupAvatar(members: readonly AvatarMember[], size = DEFAULT_AVATAR_SIZE): Promise<Buffer> {
  const shown = members.slice(0, MAX_AVATAR_TILES);
  if (shown.length === 0) throw new RangeError('composeGroupAvatar needs at least one member');
  const gap = Math.max(2, Math.round(size / 64));
  const placements = avatarLayout(shown.length, size, gap);
  const tiles = await Promise.all(
    shown.map(async (member, i) => {
      const tileSize = placements[i]!.size;
      const input = await tileOf(member, tileSize);
      return { input, left: placements[i]!.left, top: placements[i]!.top };
    }),
  );
  return sharp({ create: { width: size, height: size, channels: 4, background: BACKGROUND } })
    .composite(tiles)
    .png()
    .toBuffer();
}

async function tileOf(member: AvatarMember, size: number): Promise<Buffer> {
  if (member.image) {
    try {
      return await sharp(member.image).resize(size, size, { fit: 'cover' }).png().toBuffer();
    } catch {
      // A picture that does not decode must not cost the whole group its
      // avatar: this member gets an initial tile instead.
    }
  }
  return sharp(Buffer.from(initialTileSvg(member.userId, member.label, size))).png().toBuffer();
}
