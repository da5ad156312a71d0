// Package im.internal.v1 is spread over several proto files; this gathers their
// generated modules into the one `internalV1` namespace. Every generated module
// also exports its own helpers (protobufPackage, protobufFileName, MessageFns,
// DeepPartial); the ones of internal.proto are the namespace's.
export * from '../gen/im/internal/v1/internal.js';
export {
  SessionState,
  sessionStateFromJSON,
  sessionStateToJSON,
  SessionRevocation,
  CheckSessionRequest,
  CheckSessionResponse,
  SessionStatusServiceDefinition,
  type SessionStatusServiceImplementation,
  type SessionStatusServiceClient,
} from '../gen/im/internal/v1/sessions.js';
