// Generates the TypeScript contracts from ../../proto into gen/, offline: buf and
// the ts-proto plugin both come from npm. Also writes gen/descriptor.binpb, the
// FileDescriptorSet that server reflection serves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const buf = join(dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf');

rmSync(join(here, 'gen'), { recursive: true, force: true });
mkdirSync(join(here, 'gen'), { recursive: true });
const run = (...args) => execFileSync(buf, args, { cwd: here, stdio: 'inherit' });
run('lint', '../../proto');
run('generate', '--template', 'buf.gen.yaml');
run('build', '../../proto', '--as-file-descriptor-set', '-o', 'gen/descriptor.binpb');
