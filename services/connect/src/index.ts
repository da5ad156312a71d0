// The public surface of @im-mesh/connect: its configuration and its start
// function, used by the standalone entry point and the all-in-one.
export { connectConfigShape, loadConnectConfig, type ConnectConfig } from './config.js';
export { startConnectService, type ConnectServiceOptions, type RunningConnectService } from './start-connect-service.js';
