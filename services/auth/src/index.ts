// The public surface of @im-mesh/auth: its configuration and its start function,
// used by the standalone entry point (main.ts) and the all-in-one.
export { authConfigShape, loadAuthConfig, type AuthConfig } from './config.js';
export { startAuthService, type StartAuthServiceOptions } from './start-auth-service.js';
export { JWKS_PATH } from './keys/jwks-http.js';
