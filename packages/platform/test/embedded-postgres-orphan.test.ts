// The all-in-one start stops a PostgreSQL that an earlier, killed run left on its
// data directory, but must never signal an unrelated process that a stale
// postmaster.pid happens to name (after a reboot the pid may be anybody's).
// Stand-in processes are node children; a "postmaster" is one started with
// argv[0] set to a postgres binary path and `-D <dir>`, in <dir>, as the real one.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createLogger } from '@im-mesh/platform';
import { isPostmasterOf, stopOrphanedCluster } from '../src/storage/embedded-postgres.js';

const logger = createLogger({ service: 'orphan-test', level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'im-orphan-'));
const children: ChildProcess[] = [];

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function dataDirectory(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A long-running child; `asPostgresOf` makes it look like a postmaster on that directory. */
async function startChild(asPostgresOf?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', '-D', asPostgresOf ?? root], {
    argv0: asPostgresOf ? '/usr/lib/postgresql/18/bin/postgres' : process.execPath,
    cwd: asPostgresOf ?? root,
    stdio: 'ignore',
  });
  children.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child;
}

/** postmaster.pid as PostgreSQL writes it: pid, data directory, start time, port, ... */
function writePidFile(dataDir: string, pid: number): void {
  writeFileSync(join(dataDir, 'postmaster.pid'), `${pid}\n${dataDir}\n1700000000\n5432\n\n127.0.0.1\n`);
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

describe('orphaned embedded PostgreSQL', () => {
  test('this test process is not a postmaster of any data directory', () => {
    assert.equal(isPostmasterOf(process.pid, dataDirectory('self')), false);
  });

  test('a stale pid file naming a live process that is not postgres leaves that process alone', async () => {
    const dataDir = dataDirectory('stale');
    const bystander = await startChild();
    writePidFile(dataDir, bystander.pid!);
    assert.equal(isPostmasterOf(bystander.pid!, dataDir), false);
    await stopOrphanedCluster(dataDir, logger);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(alive(bystander), 'an unrelated process was signalled');
  });

  test('a postgres running on another data directory is left alone', async () => {
    const dataDir = dataDirectory('mine');
    const neighbour = await startChild(dataDirectory('theirs'));
    writePidFile(dataDir, neighbour.pid!);
    assert.equal(isPostmasterOf(neighbour.pid!, dataDir), false);
    await stopOrphanedCluster(dataDir, logger);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(alive(neighbour), 'a postgres of another data directory was signalled');
  });

  test('the postgres left running on our data directory is stopped', async () => {
    const dataDir = dataDirectory('orphan');
    const orphan = await startChild(dataDir);
    writePidFile(dataDir, orphan.pid!);
    assert.equal(isPostmasterOf(orphan.pid!, dataDir), true);
    const gone = exited(orphan);
    await stopOrphanedCluster(dataDir, logger);
    await gone;
    assert.equal(alive(orphan), false);
  });
});
