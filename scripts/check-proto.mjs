// `npm run check:proto`: buf lint (STANDARD) and buf breaking against the previous
// commit, so a change that would break generated clients fails CI. On the first
// commit that has proto/, there is nothing to compare against and only lint runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const buf = join(dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf');
const run = (...args) => execFileSync(buf, args, { stdio: 'inherit' });

run('lint', 'proto');
const previous = spawnSync('git', ['cat-file', '-e', 'HEAD~1:proto/buf.yaml'], { stdio: 'ignore' });
if (previous.status === 0) {
  run('breaking', 'proto', '--against', '.git#ref=HEAD~1,subdir=proto');
  console.log('buf breaking: no breaking change against HEAD~1');
} else {
  console.log('buf breaking: HEAD~1 has no proto module; nothing to compare');
}
