// Regression test for load-config.ts: a JSON array in IM_CONFIG_FILE for a list
// key must become that list. Fails before the fix (gets ['["https://a.example"', '"https://b.example"]']).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { env, loadConfig } from '@im-mesh/platform';

test('a JSON array in IM_CONFIG_FILE becomes the list it names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'im-config-'));
  try {
    const path = join(dir, 'im.json');
    await writeFile(path, JSON.stringify({ CORS_ORIGINS: ['https://a.example', 'https://b.example'] }));
    const config = loadConfig({ CORS_ORIGINS: env.list([]) }, { IM_CONFIG_FILE: path });
    assert.deepEqual(config.CORS_ORIGINS, ['https://a.example', 'https://b.example']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
