// Generates the TypeScript contracts from ../../proto into gen/, offline: buf and
// the ts-proto plugin both come from npm. Also writes gen/descriptor.binpb, the
// FileDescriptorSet that server reflection serves. Everything is written into a
// staging folder first and swapped in with renames, so a process importing the
// contracts while another regenerates them never finds gen/ half-empty.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const buf = join(dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf');

const gen = join(here, 'gen');
// buf puts the template's `out: gen` below --output, so the new tree is <staging>/gen.
const staging = join(here, `.gen-staging-${process.pid}`);
const retired = join(here, `.gen-retired-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, 'gen'), { recursive: true });
const run = (...args) => execFileSync(buf, args, { cwd: here, stdio: 'inherit' });
try {
  run('lint', '../../proto');
  run('generate', '--template', 'buf.gen.yaml', '--output', staging);
  run('build', '../../proto', '--as-file-descriptor-set', '-o', join(staging, 'gen', 'descriptor.binpb'));
  if (existsSync(gen)) renameSync(gen, retired);
  renameSync(join(staging, 'gen'), gen);
} finally {
  rmSync(staging, { recursive: true, force: true });
  rmSync(retired, { recursive: true, force: true });
}
