// Package im.message.v1 is spread over several proto files; this gathers their
// generated modules into the one `messageV1` namespace. Each generated module
// exports its own `protobufPackage` constant (all equal), so it is named once.
export * from '../gen/im/message/v1/message.js';
export * from '../gen/im/message/v1/group_event.js';
