// Where the FileDescriptorSet of every proto in the module lives (binary), for
// server reflection. Kept out of index.ts because it needs node:url, and the
// generated types must stay importable in browsers.
import { fileURLToPath } from 'node:url';

export const descriptorSetPath: string = fileURLToPath(new URL('../gen/descriptor.binpb', import.meta.url));
