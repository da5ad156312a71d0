// Baseline: raw `ws` round trips on this machine. An echo server in its own
// process; `connections` clients in this process keep `inFlight` 64-byte
// messages outstanding each (closed loop) for `durationMs`. A round trip is
// two WebSocket hops, the same work as a push plus its ack in the system.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { LatencyHistogram } from '../harness/latency-histogram.js';
import { mapLimited } from '../harness/accounts.js';
import { round } from '../harness/message-load.js';

export interface EchoBaseline {
  roundTripsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export async function measureWsEcho(connections: number, inFlight: number, durationMs: number): Promise<EchoBaseline> {
  const server = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'ws-echo-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => server.once('exit', () => done()));
  try {
    const port = await new Promise<number>((done, fail) => {
      server.stdout!.once('data', (chunk: Buffer) => done((JSON.parse(chunk.toString('utf8')) as { port: number }).port));
      server.once('exit', (code) => fail(new Error(`the echo server exited with ${code}`)));
    });
    const sockets = await mapLimited(Array.from({ length: connections }, (_, i) => i), 100, (i) => {
      return new Promise<WebSocket>((done, fail) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress: `127.0.0.${2 + (i % 8)}`, perMessageDeflate: false });
        socket.once('open', () => done(socket));
        socket.once('error', fail);
      });
    });
    const histogram = new LatencyHistogram();
    let completed = 0;
    const endsAt = Date.now() + durationMs;
    const payload = Buffer.alloc(56);
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((done) => {
            let outstanding = 0;
            const fire = () => {
              const message = Buffer.allocUnsafe(64);
              message.writeBigUInt64BE(process.hrtime.bigint(), 0);
              payload.copy(message, 8);
              outstanding += 1;
              socket.send(message);
            };
            socket.on('message', (data: Buffer) => {
              histogram.record(Number(process.hrtime.bigint() - data.readBigUInt64BE(0)) / 1000);
              completed += 1;
              outstanding -= 1;
              if (Date.now() < endsAt) fire();
              else if (outstanding === 0) done();
            });
            for (let i = 0; i < inFlight; i += 1) fire();
          }),
      ),
    );
    for (const socket of sockets) socket.terminate();
    return { roundTripsPerSecond: round(completed / (durationMs / 1000)), p50Ms: round(histogram.quantileMs(0.5), 3), p99Ms: round(histogram.quantileMs(0.99), 3) };
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
}
