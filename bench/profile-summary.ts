// `node --import tsx bench/profile-summary.ts <file.cpuprofile|dir> [top] [--window <result.json>:<phase>]`:
// the top cost centres of V8 CPU profiles (written by `npm run bench -- --cpu-prof
// <dir>`), by self time, grouped by function and by package, so RESULTS.md
// can name where the time goes without a flame-graph viewer. With --window only
// the samples taken during one measured phase of that run count (the phases are
// in the result's `windows`): a whole-run profile is mostly the logins of setup.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (CLOCK_MONOTONIC on Linux, as process.hrtime). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the monotonic clock in microseconds. */
export interface SampleWindow {
  fromUs: number;
  toUs: number;
}

/** The package or area a script belongs to: node_modules/<pkg>, our workspace folder, or node's internals. */
function areaOf(url: string): string {
  if (url === '') return '(native / idle / gc)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules !== null) return modules[1]!;
  const ours = /\/(services\/[^/]+|packages\/[^/]+|bench)\//.exec(url);
  if (ours !== null) return ours[1]!;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

export function summarize(
  profile: CpuProfile,
  top: number,
  window?: SampleWindow,
): { byFunction: Array<[string, number]>; byArea: Array<[string, number]>; totalMs: number; idleMs: number } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // Each sample's time is the sum of the deltas up to it.
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*?(node_modules|services|packages|bench)\//, '$1/')}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const area = frame.functionName.startsWith('(') ? frame.functionName : areaOf(frame.url);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => [key, Math.round(us / 1000)] as [string, number]);
  return { byFunction: sorted(byFunction), byArea: sorted(byArea), totalMs: Math.round(total / 1000), idleMs: Math.round(idle / 1000) };
}

function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesOf(join(path, name))).filter((file) => file.endsWith('.cpuprofile'));
}

/** `result.json:phase` → that phase's span, from the result's `windows`. */
function windowFrom(spec: string): SampleWindow {
  const split = spec.lastIndexOf(':');
  const [file, phase] = [spec.slice(0, split), spec.slice(split + 1)];
  const windows = (JSON.parse(readFileSync(file, 'utf8')) as { windows?: Record<string, { fromNs: string; toNs: string }> }).windows ?? {};
  const found = windows[phase];
  if (split < 0 || !found) {
    throw new Error(`--window wants <result.json>:<phase>; the phases of ${file} are: ${Object.keys(windows).join(', ') || 'none (a result written before windows were recorded)'}`);
  }
  return { fromUs: Number(BigInt(found.fromNs) / 1000n), toUs: Number(BigInt(found.toNs) / 1000n) };
}

if (process.argv[1]?.endsWith('profile-summary.ts')) {
  const args = process.argv.slice(2);
  const windowAt = args.indexOf('--window');
  const window = windowAt >= 0 ? windowFrom(args.splice(windowAt, 2)[1] ?? '') : undefined;
  const [path, topText] = args;
  if (path === undefined) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile|dir> [top] [--window <result.json>:<phase>]\n');
    process.exit(2);
  }
  const top = Number(topText ?? 15);
  for (const file of filesOf(path)) {
    const { byFunction, byArea, totalMs, idleMs } = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top, window);
    const percent = (ms: number) => `${((100 * ms) / Math.max(1, totalMs)).toFixed(1)}%`;
    const span = window ? `the phase's ${((window.toUs - window.fromUs) / 1e6).toFixed(1)} s: ` : '';
    process.stdout.write(`\n${file}: ${span}${totalMs} ms on CPU, ${idleMs} ms idle\n  by area:\n`);
    for (const [area, ms] of byArea) process.stdout.write(`    ${percent(ms).padStart(6)}  ${ms} ms  ${area}\n`);
    process.stdout.write('  by function (self time):\n');
    for (const [name, ms] of byFunction) process.stdout.write(`    ${percent(ms).padStart(6)}  ${ms} ms  ${name}\n`);
  }
}
