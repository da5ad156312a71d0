// The Node entry point, `@im-mesh/sdk/node`: the Node adapters of the SDK.
// Everything else is imported from `@im-mesh/sdk`.
export { nodePlatform } from './node/node-platform.js';
export { openNativeGrpcChannel } from './node/native-grpc-channel.js';
