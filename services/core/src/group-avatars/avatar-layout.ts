// Where each member's tile goes in a group picture, WeChat style: one member
// fills the square; 2 to 4 sit in a 2x2 grid, 5 to 9 in a 3x3 grid. Rows fill
// from the bottom, so an incomplete first row is the top one, centred, and the
// whole block is centred vertically (3 members: one on top, two below).
export const MAX_AVATAR_TILES = 9;

export interface TilePlacement {
  left: number;
  top: number;
  size: number;
}

/** Tiles for `count` members (1 to 9) on a `canvas`-pixel square with `gap` pixels between and around tiles. */
export function avatarLayout(count: number, canvas: number, gap: number): TilePlacement[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_AVATAR_TILES) throw new RangeError(`avatarLayout: count must be 1..9, got ${count}`);
  if (count === 1) return [{ left: gap, top: gap, size: canvas - 2 * gap }];
  const columns = count <= 4 ? 2 : 3;
  const size = Math.floor((canvas - (columns + 1) * gap) / columns);
  const rows = Math.ceil(count / columns);
  const firstRowCount = count - (rows - 1) * columns;
  const blockHeight = rows * size + (rows - 1) * gap;
  const top0 = Math.floor((canvas - blockHeight) / 2);
  const placements: TilePlacement[] = [];
  for (let i = 0; i < count; i += 1) {
    const inFirstRow = i < firstRowCount;
    const row = inFirstRow ? 0 : 1 + Math.floor((i - firstRowCount) / columns);
    const column = inFirstRow ? i : (i - firstRowCount) % columns;
    const rowCount = inFirstRow ? firstRowCount : columns;
    const rowWidth = rowCount * size + (rowCount - 1) * gap;
    const left0 = Math.floor((canvas - rowWidth) / 2);
    placements.push({ left: left0 + column * (size + gap), top: top0 + row * (size + gap), size });
  }
  return placements;
}
