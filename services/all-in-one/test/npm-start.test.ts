// `npm start` as a user runs it: the real entry point on the embedded PostgreSQL
// (started by the app, data in IM_VAR_DIR), stopped with SIGTERM and started again
// on the same data. B, offline the whole time, then syncs every message.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { AuthClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import { FREE_PORTS } from '@im-mesh/platform/testing';
import { newUser, openClient, waitFor } from './support/mesh-harness.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const varDir = mkdtempSync(join(tmpdir(), 'im-all-in-one-'));
// PostgreSQL runs as the OS user `postgres` when we are root: it must reach the folder.
chmodSync(varDir, 0o755);

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function npmStart(): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...FREE_PORTS, IM_VAR_DIR: varDir, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/all-in-one/src/main.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let url: string | undefined;
  await waitFor(
    () => {
      url = /edge \(gRPC, grpc-web, WebSocket\): (http:\/\/\S+)/.exec(output)?.[1];
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
      return url !== undefined;
    },
    () => `npm start did not print its address:\n${output}`,
    180_000,
  );
  return { child, url: url!, output: () => output };
}

async function sigterm(running: Running): Promise<number | null> {
  const exited = new Promise<number | null>((done) => running.child.once('exit', (code) => done(code)));
  running.child.kill('SIGTERM');
  return exited;
}

after(() => rmSync(varDir, { recursive: true, force: true }));

test('npm start prints its address, keeps messages across a SIGTERM restart, and B syncs them all', { timeout: 300_000 }, async () => {
  const first = await npmStart();
  const health = await fetch(`${first.url}/healthz`);
  assert.equal(health.status, 200);
  const ready = await fetch(`${first.url}/readyz`);
  assert.equal(ready.status, 200, await ready.text());

  const alice = await newUser(first.url, 'alice');
  const bob = await newUser(first.url, 'bob');
  const aliceInbox = await openClient(first.url, alice, 'websocket');
  for (let i = 0; i < 20; i++) await aliceInbox.client.sendText({ toUserId: bob.userId }, `before restart ${i}`);
  await aliceInbox.client.close();

  assert.equal(await sigterm(first), 0, `graceful exit code; output:\n${first.output()}`);
  const pidFile = join(varDir, 'postgres', 'postmaster.pid');
  assert.ok(!existsSync(pidFile), 'PostgreSQL was stopped with the app');

  const second = await npmStart();
  try {
    const bobAgain = new AuthClient({ baseUrl: second.url, platform: nodePlatform, rpc: 'grpc' });
    await bobAgain.login(bob.username, bob.password, 'bob-device', 'node-test');
    const bobInbox = await openClient(second.url, { ...bob, auth: bobAgain }, 'websocket');
    await waitFor(() => bobInbox.received.length >= 20, () => `bob synced ${bobInbox.received.length} of 20`);
    assert.deepEqual(
      bobInbox.received.map((m) => m.text),
      Array.from({ length: 20 }, (_, i) => `before restart ${i}`),
    );
    await bobInbox.client.close();
  } finally {
    assert.equal(await sigterm(second), 0, `graceful exit code; output:\n${second.output()}`);
  }
  assert.ok(readFileSync(join(varDir, 'postgres', 'PG_VERSION'), 'utf8').trim().length > 0, 'the data stayed under IM_VAR_DIR');
});
