// Package im.auth.v1 is spread over several proto files; this gathers their
// generated modules into the one `authV1` namespace. Every generated module also
// exports its own helpers (protobufPackage, protobufFileName, MessageFns,
// DeepPartial); the ones of auth.proto are the namespace's.
export * from '../gen/im/auth/v1/auth.js';
export {
  Session,
  SessionServiceDefinition,
  type SessionServiceImplementation,
  type SessionServiceClient,
  ListSessionsRequest,
  ListSessionsResponse,
  RevokeSessionRequest,
  RevokeSessionResponse,
  RevokeAllSessionsRequest,
  RevokeAllSessionsResponse,
} from '../gen/im/auth/v1/sessions.js';
