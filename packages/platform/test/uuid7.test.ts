// uuidv7: valid RFC 9562 version-7 UUIDs that sort by creation time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUuid, uuidv7 } from '@im-mesh/platform';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  test('ids are canonical lowercase version-7, variant-10 UUIDs', () => {
    for (let i = 0; i < 1_000; i += 1) {
      const id = uuidv7();
      assert.match(id, V7);
      assert.equal(isUuid(id), true);
    }
  });

  test('the first 48 bits are the creation time in Unix milliseconds', () => {
    const at = Date.UTC(2026, 10, 1, 12, 30, 15, 123);
    const id = uuidv7(at);
    assert.equal(parseInt(id.replaceAll('-', '').slice(0, 12), 16), at);
    const now = Date.now();
    const fresh = parseInt(uuidv7().replaceAll('-', '').slice(0, 12), 16);
    assert.ok(Math.abs(fresh - now) < 1_000);
  });

  test('ids made later sort after ids made earlier, as strings', () => {
    const start = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 500 }, (_, i) => uuidv7(start + i * 7));
    assert.deepEqual([...ids].sort(), ids);
  });

  test('10,000 ids are all distinct', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidv7(now)));
    assert.equal(ids.size, 10_000);
  });

  test('isUuid refuses what is not a canonical lowercase UUID', () => {
    for (const text of ['', 'not-a-uuid', '0190a6c8-1f2b-7c3d-8e4f-5a6b7c8d9e0', '0190A6C8-1F2B-7C3D-8E4F-5A6B7C8D9E0F', ' 0190a6c8-1f2b-7c3d-8e4f-5a6b7c8d9e0f']) {
      assert.equal(isUuid(text), false, JSON.stringify(text));
    }
    assert.equal(isUuid('0190a6c8-1f2b-7c3d-8e4f-5a6b7c8d9e0f'), true);
  });
});
