// The public surface of @im-mesh/contracts: the generated protobuf types and
// service definitions (build output in gen/, never edited), one namespace per
// proto package, plus where to find the descriptor set for server reflection.
import { fileURLToPath } from 'node:url';

export * as authV1 from '../gen/im/auth/v1/auth.js';
export * as commonV1 from '../gen/im/common/v1/error.js';
export * as connectV1 from '../gen/im/connect/v1/connect.js';
export * as internalV1 from '../gen/im/internal/v1/internal.js';
export * as messageV1 from '../gen/im/message/v1/message.js';

/** Absolute path of the FileDescriptorSet of every proto in the module (binary). */
export const descriptorSetPath: string = fileURLToPath(new URL('../gen/descriptor.binpb', import.meta.url));
