// `node --import tsx bench/allocation-summary.ts <file.heapprofile> [top]`: who
// allocates, from a profile written by `npm run bench -- --allocation-prof <file>`
// (V8's sampling heap profiler with collected objects kept, so garbage counts).
// Two views: bytes by the function that allocated them (self), and by the
// nearest frame of our own code on the stack (services/, packages/, bench/), so
// what node's internals or a library allocate is charged to the call of ours
// that asked for it.
import { readFileSync } from 'node:fs';

interface AllocationNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocationNode[];
}

interface AllocationProfile {
  head: AllocationNode;
  samples?: Array<{ size: number; nodeId: number }>;
}

function nameOf(frame: AllocationNode['callFrame']): string {
  const where = frame.url.replace(/^.*?(node_modules|services|packages|bench)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
}

const isOurs = (url: string): boolean => /\/(services|packages)\/[^/]+\/src\//.test(url) && !url.includes('/gen/');

export function summarizeAllocations(profile: AllocationProfile, top: number): { total: number; bySelf: Array<[string, number]>; byOurs: Array<[string, number]> } {
  const bySelf = new Map<string, number>();
  const byOurs = new Map<string, number>();
  let total = 0;
  const walk = (node: AllocationNode, ours: string | undefined): void => {
    const nearest = isOurs(node.callFrame.url) ? nameOf(node.callFrame) : ours;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const self = nameOf(node.callFrame);
      bySelf.set(self, (bySelf.get(self) ?? 0) + node.selfSize);
      const charged = nearest ?? '(no frame of ours)';
      byOurs.set(charged, (byOurs.get(charged) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, nearest);
  };
  walk(profile.head, undefined);
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { total, bySelf: sorted(bySelf), byOurs: sorted(byOurs) };
}

if (process.argv[1]?.endsWith('allocation-summary.ts')) {
  const [file, topText] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: node --import tsx bench/allocation-summary.ts <file.heapprofile> [top]\n');
    process.exit(2);
  }
  const { total, bySelf, byOurs } = summarizeAllocations(JSON.parse(readFileSync(file, 'utf8')) as AllocationProfile, Number(topText ?? 30));
  const line = ([name, bytes]: [string, number]) =>
    `    ${((100 * bytes) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${(bytes / 2 ** 20).toFixed(0).padStart(6)} MiB  ${name}\n`;
  process.stdout.write(`${file}: ${(total / 2 ** 20).toFixed(0)} MiB allocated (sampled estimate, whole run)\n  by allocating function:\n`);
  for (const entry of bySelf) process.stdout.write(line(entry));
  process.stdout.write('  by nearest frame of our code:\n');
  for (const entry of byOurs) process.stdout.write(line(entry));
}
