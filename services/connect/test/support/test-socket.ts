// Test helper: a real `ws` WebSocket client speaking binary ClientFrame /
// ServerFrame, with awaitable frames and close.
import { connectV1 } from '@im-mesh/contracts';
import WebSocket from 'ws';
import { FrameReader } from './frame-reader.js';

export interface TestSocket {
  ws: WebSocket;
  frames: FrameReader;
  /** Resolves with the close code and reason once the socket closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(frame: connectV1.ClientFrame): void;
  close(): void;
}

export interface OpenOptions {
  /** Sec-WebSocket-Protocol values; ['im.v1'] by default. */
  protocols?: string[];
  headers?: Record<string, string>;
  /** Added to the URL path, e.g. '?token=x'. */
  query?: string;
}

/** Opens a socket and waits until it is upgraded. */
export async function openSocket(httpAddress: string, options: OpenOptions = {}): Promise<TestSocket> {
  const ws = new WebSocket(`ws://${httpAddress}/ws${options.query ?? ''}`, options.protocols ?? ['im.v1'], {
    headers: options.headers,
    perMessageDeflate: false,
  });
  const reader = new FrameReader();
  ws.on('message', (data: Buffer) => reader.push(connectV1.ServerFrame.decode(data)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      reader.finish(new Error(`closed ${code}`));
      resolve({ code, reason: reason.toString() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames: reader,
    closed,
    send: (frame) => ws.send(connectV1.ClientFrame.encode(frame).finish()),
    close: () => ws.close(1000),
  };
}

/** Tries to open a socket that the server must refuse; resolves with the HTTP status. */
export function refusedStatus(httpAddress: string, options: OpenOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${httpAddress}/ws${options.query ?? ''}`, options.protocols ?? ['im.v1'], {
      headers: options.headers,
    });
    ws.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the server upgraded a connection it should have refused'));
    });
    ws.on('error', (error) => {
      // After 'unexpected-response' this is the aborted request: already settled.
      reject(error);
    });
  });
}
