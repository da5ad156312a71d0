// Generated group pictures, decoded: a PNG of the right size whose tiles sit
// where the WeChat-style layout says, differ from member to member, and show a
// member's own picture when they have one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { avatarLayout } from '../src/group-avatars/avatar-layout.js';
import { composeGroupAvatar, type AvatarMember } from '../src/group-avatars/compose-group-avatar.js';
import { initialOf, tileColour } from '../src/group-avatars/initial-tile.js';

const SIZE = 256;

async function decode(png: Buffer): Promise<{ width: number; height: number; format: string | undefined; pixel: (x: number, y: number) => number[] }> {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: meta.width,
    height: meta.height,
    format: meta.format,
    pixel: (x, y) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)],
  };
}

function members(count: number): AvatarMember[] {
  return Array.from({ length: count }, (_, i) => ({ userId: randomUUID(), label: `Member ${i}` }));
}

/** A pixel near the tile's top-left corner: inside the tile's colour, away from the letter. */
function cornerOf(tile: { left: number; top: number; size: number }): [number, number] {
  return [tile.left + Math.max(2, Math.floor(tile.size / 10)), tile.top + Math.max(2, Math.floor(tile.size / 10))];
}

describe('group avatar layout', () => {
  test('1 fills the square, 2-4 use a 2x2 grid, 5-9 a 3x3 grid; tiles never overlap and stay inside', () => {
    const columnsFor = (n: number) => (n === 1 ? 1 : n <= 4 ? 2 : 3);
    for (let n = 1; n <= 9; n += 1) {
      const tiles = avatarLayout(n, SIZE, 4);
      assert.equal(tiles.length, n);
      const expectedSize = n === 1 ? SIZE - 8 : Math.floor((SIZE - (columnsFor(n) + 1) * 4) / columnsFor(n));
      for (const tile of tiles) {
        assert.equal(tile.size, expectedSize, `n=${n}`);
        assert.ok(tile.left >= 0 && tile.top >= 0 && tile.left + tile.size <= SIZE && tile.top + tile.size <= SIZE, `n=${n} inside`);
      }
      for (let i = 0; i < n; i += 1) {
        for (let j = i + 1; j < n; j += 1) {
          const [a, b] = [tiles[i]!, tiles[j]!];
          const apart = a.left + a.size <= b.left || b.left + b.size <= a.left || a.top + a.size <= b.top || b.top + b.size <= a.top;
          assert.ok(apart, `n=${n}: tiles ${i} and ${j} overlap`);
        }
      }
    }
  });

  test('3 members: one centred on top, two below; the block is centred vertically', () => {
    const [top, left, right] = avatarLayout(3, SIZE, 4);
    assert.equal(left!.top, right!.top);
    assert.ok(top!.top < left!.top);
    assert.equal(top!.left, Math.floor((SIZE - top!.size) / 2));
    const blockTop = top!.top;
    const blockBottom = left!.top + left!.size;
    assert.ok(Math.abs(blockTop - (SIZE - blockBottom)) <= 1, `vertical margins ${blockTop} and ${SIZE - blockBottom}`);
  });
});

describe('composed group avatar', () => {
  test('nine members: a 256x256 PNG whose nine tiles show each member colour, all different', async () => {
    const nine = members(9);
    const png = await composeGroupAvatar(nine);
    const image = await decode(png);
    assert.deepEqual([image.format, image.width, image.height], ['png', SIZE, SIZE]);
    const tiles = avatarLayout(9, SIZE, 4);
    const colours = tiles.map((tile) => image.pixel(...cornerOf(tile)).join(','));
    assert.equal(new Set(colours).size, 9, `tile colours: ${colours.join(' | ')}`);
    // The gap between tiles keeps the light grey background.
    assert.deepEqual(image.pixel(1, 1), [232, 232, 232]);
  });

  test('the same members render the same picture; other members a different one', async () => {
    const four = members(4);
    const first = await composeGroupAvatar(four);
    const again = await composeGroupAvatar(four);
    const other = await composeGroupAvatar(members(4));
    assert.ok(first.equals(again));
    assert.ok(!first.equals(other));
  });

  test("a member with a picture shows it; a picture that does not decode falls back to the initial tile", async () => {
    const red = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const [withPicture, broken] = members(2);
    const png = await composeGroupAvatar([
      { ...withPicture!, image: red },
      { ...broken!, image: Buffer.from('not an image') },
    ]);
    const image = await decode(png);
    const [first, second] = avatarLayout(2, SIZE, 4);
    assert.deepEqual(image.pixel(...cornerOf(first!)), [255, 0, 0]);
    const fallback = image.pixel(...cornerOf(second!));
    assert.notDeepEqual(fallback, [255, 0, 0]);
    assert.notDeepEqual(fallback, [232, 232, 232]);
  });

  test('initials are whole graphemes, upper-cased; colours depend on the id only', () => {
    assert.equal(initialOf('  alice'), 'A');
    assert.equal(initialOf('张三'), '张');
    assert.equal(initialOf('👩‍👩‍👧 family'), '👩‍👩‍👧');
    assert.equal(initialOf(''), '?');
    const id = randomUUID();
    assert.equal(tileColour(id), tileColour(id));
    assert.notEqual(tileColour(id), tileColour(randomUUID()));
  });
});
