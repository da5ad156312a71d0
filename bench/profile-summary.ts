// `node --import tsx bench/profile-summary.ts <file.cpuprofile|dir> [top]`: the
// top cost centres of V8 CPU profiles (written by `npm run bench -- --cpu-prof
// <dir>`), by self time, grouped by function and by package, so RESULTS.md
// can name where the time goes without a flame-graph viewer.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
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

export function summarize(profile: CpuProfile, top: number): { byFunction: Array<[string, number]>; byArea: Array<[string, number]>; totalMs: number } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
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
  return { byFunction: sorted(byFunction), byArea: sorted(byArea), totalMs: Math.round(total / 1000) };
}

function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesOf(join(path, name))).filter((file) => file.endsWith('.cpuprofile'));
}

if (process.argv[1]?.endsWith('profile-summary.ts')) {
  const [path, topText] = process.argv.slice(2);
  if (path === undefined) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile|dir> [top]\n');
    process.exit(2);
  }
  const top = Number(topText ?? 15);
  for (const file of filesOf(path)) {
    const { byFunction, byArea, totalMs } = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
    const percent = (ms: number) => `${((100 * ms) / Math.max(1, totalMs)).toFixed(1)}%`;
    process.stdout.write(`\n${file}: ${totalMs} ms on CPU (idle excluded)\n  by area:\n`);
    for (const [area, ms] of byArea) process.stdout.write(`    ${percent(ms).padStart(6)}  ${ms} ms  ${area}\n`);
    process.stdout.write('  by function (self time):\n');
    for (const [name, ms] of byFunction) process.stdout.write(`    ${percent(ms).padStart(6)}  ${ms} ms  ${name}\n`);
  }
}
