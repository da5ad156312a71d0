// The standalone entry point (src/main.ts) as an operator runs it: it refuses to
// start without DATABASE_URL, and with one it serves until SIGTERM, then exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs main.ts with exactly `env` (plus PATH); `whenOutput` may act on each stdout chunk. */
function runMain(env: Record<string, string>, whenOutput?: (stdout: string, stop: () => void) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      whenOutput?.(stdout, () => child.kill('SIGTERM'));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('standalone auth (src/main.ts)', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase('auth_main');
  });

  after(async () => {
    await db?.drop();
  });

  test('without DATABASE_URL it exits 2 with a message naming DATABASE_URL', async () => {
    const { code, stderr } = await runMain({ AUTH_GRPC_PORT: '0', AUTH_HTTP_PORT: '0' });
    assert.equal(code, 2);
    assert.match(stderr, /DATABASE_URL: required/);
  });

  test('a bad port fails with a message naming the key', async () => {
    const { code, stderr } = await runMain({ DATABASE_URL: db.url, AUTH_GRPC_PORT: 'seventy' });
    assert.equal(code, 2);
    assert.match(stderr, /AUTH_GRPC_PORT/);
  });

  test('with DATABASE_URL it listens, and on SIGTERM it shuts down and exits 0', async () => {
    let stopped = false;
    const { code, stdout } = await runMain(
      { DATABASE_URL: db.url, AUTH_GRPC_PORT: '0', AUTH_HTTP_PORT: '0' },
      (out, stop) => {
        if (!stopped && out.includes('auth is listening')) {
          stopped = true;
          stop();
        }
      },
    );
    assert.ok(stopped, `never saw "auth is listening" in: ${stdout}`);
    assert.equal(code, 0);
  });
});
