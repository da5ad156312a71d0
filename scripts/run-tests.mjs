// `npm test`: type-checks the workspace, then runs every *.test.ts under packages/
// and services/ (or the files given as arguments) with node:test through tsx.
// Node 20's test runner does not expand globs or know .ts, hence this script.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'services', 'tests', 'bench'];
const skipDirs = new Set(['node_modules', 'gen', 'dist', 'var']);

function findTests(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : roots.filter((root) => existsSync(root)).flatMap((root) => findTests(root, [])).sort();

if (args.length === 0) {
  const typecheck = spawnSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], { stdio: 'inherit' });
  if (typecheck.status !== 0) {
    console.error('Type check failed.');
    process.exit(typecheck.status ?? 1);
  }
}

if (files.length === 0) {
  console.error('No test files found.');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
