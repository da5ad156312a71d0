// Child-process entry of the embedded mode: the all-in-one (services/all-in-one)
// on its embedded PostgreSQL, started from the environment exactly as `npm start`
// does, plus one JSON line on stdout that tells the bench where everything
// listens. Run by system-under-test.ts, never by hand.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
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

// --allocation-prof: V8's sampling heap profiler, started once the system is up,
// keeping the samples of objects already collected. A CPU profile shows the
// garbage collector's time but not who made the garbage; this does (a sample
// about every 32 KiB allocated; bench/allocation-summary.ts reads it).
const allocationProfile = process.env.BENCH_ALLOCATION_PROFILE;
const inspector = allocationProfile === undefined ? undefined : new Session();
if (inspector) {
  inspector.connect();
  await inspector.post('HeapProfiler.enable');
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
// Beside it, the collector's pauses by kind (count, total and longest ms).
const pauses = new Map<string, { count: number; totalMs: number; maxMs: number }>();
const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor (scavenge)',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major (mark-compact)',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
const gcObserver = inspector && new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
    const kind = gcKinds[entry.detail?.kind ?? -1] ?? 'other';
    const seen = pauses.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
    seen.count += 1;
    seen.totalMs += entry.duration;
    seen.maxMs = Math.max(seen.maxMs, entry.duration);
    pauses.set(kind, seen);
  }
});
gcObserver?.observe({ entryTypes: ['gc'] });
process.stdout.write(`${JSON.stringify(ready)}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  if (inspector) {
    const { profile } = await inspector.post('HeapProfiler.stopSampling');
    writeFileSync(allocationProfile!, JSON.stringify(profile));
    gcObserver?.disconnect();
    writeFileSync(`${allocationProfile!}.gc.json`, JSON.stringify(Object.fromEntries(pauses), null, 2));
    inspector.disconnect();
  }
  await mesh.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
