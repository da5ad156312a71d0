// `npm start`: runs the whole mesh in this process and prints where it listens.
import { ConfigError, Shutdown } from '@im-mesh/platform';
import { startAllInOne } from './all-in-one.js';

try {
  const mesh = await startAllInOne();
  const { auth, core, connect, edge } = mesh.services;
  const shutdown = new Shutdown(mesh.logger, 30_000);
  shutdown.add('all-in-one', () => mesh.stop());
  shutdown.installSignalHandlers();
  mesh.logger.info(
    {
      edge: mesh.url,
      auth: auth.grpcAddress,
      core: core.grpcAddress,
      connect: connect.grpcAddress,
      websocket: `${mesh.url.replace(/^http/, 'ws')}/ws`,
    },
    'im-mesh is running',
  );
  process.stdout.write(
    [
      '',
      `  im-mesh is running (all-in-one)`,
      `  edge (gRPC, grpc-web, WebSocket): ${mesh.url}`,
      `    health:    ${mesh.url}/healthz   ready: ${mesh.url}/readyz   metrics: ${mesh.url}/metrics`,
      `    WebSocket: ${mesh.url.replace(/^http/, 'ws')}/ws`,
      `  internal gRPC: auth ${auth.grpcAddress}, core ${core.grpcAddress}, connect ${connect.grpcAddress} (${edge.name} routes to them)`,
      '',
    ].join('\n') + '\n',
  );
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
