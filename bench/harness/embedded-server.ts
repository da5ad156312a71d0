// Child-process entry of the embedded mode: the all-in-one (services/all-in-one)
// on its embedded PostgreSQL, started from the environment exactly as `npm start`
// does, plus one JSON line on stdout that tells the bench where everything
// listens. Run by system-under-test.ts, never by hand.
import { startAllInOne } from '../../services/all-in-one/src/all-in-one.js';

// Logs go to stderr (kept by the parent for a failure message); stdout carries only the ready line.
const mesh = await startAllInOne(process.env, { logDestination: process.stderr });
const { connect, core } = mesh.services;
const ready = {
  benchReady: true,
  edge: mesh.url,
  connectWs: `ws://${connect.httpAddress}/ws`,
  coreGrpc: core.grpcAddress,
  databaseUrl: mesh.databaseUrl,
  pid: process.pid,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await mesh.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
