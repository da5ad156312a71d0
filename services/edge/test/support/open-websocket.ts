// Opens a WebSocket and resolves once it is open; an upgrade the server refuses
// rejects with its HTTP status ("upgrade refused with HTTP 429"), which tests match.
import WebSocket from 'ws';

export function openWebSocket(url: string, protocols: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
  });
}
