// The raw `ws` echo server of the baseline, in its own process (so the server
// has a core of its own like the system under test): sends every binary message
// back. Prints {"port": n} once listening.
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 65_536 });
server.on('connection', (socket) => {
  socket.on('message', (data: Buffer) => socket.send(data));
});
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
