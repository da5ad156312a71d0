// The public surface of @im-mesh/contracts: the generated protobuf types and
// service definitions (build output in gen/, never edited), one namespace per
// proto package. Browser-safe; the descriptor set's path is in
// '@im-mesh/contracts/descriptor-path'.

export * as adminV1 from '../gen/im/admin/v1/admin.js';
export * as authV1 from './auth-v1.js';
export * as commonV1 from '../gen/im/common/v1/error.js';
export * as connectV1 from '../gen/im/connect/v1/connect.js';
export * as fileV1 from '../gen/im/file/v1/file.js';
export * as internalV1 from './internal-v1.js';
export * as groupV1 from '../gen/im/group/v1/group.js';
export * as messageV1 from './message-v1.js';
export * as userV1 from '../gen/im/user/v1/user.js';

export { encodeMessage, type MessageEncoder } from './encode-message.js';
