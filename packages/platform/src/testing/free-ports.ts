// Configuration that makes every service bind a free port (0), so tests can run
// many systems side by side and read the bound addresses back.
export const FREE_PORTS = {
  EDGE_PORT: '0',
  AUTH_GRPC_PORT: '0',
  AUTH_HTTP_PORT: '0',
  CORE_GRPC_PORT: '0',
  CORE_HTTP_PORT: '0',
  CONNECT_GRPC_PORT: '0',
  CONNECT_HTTP_PORT: '0',
} as const;
