// /readyz for the edge: every upstream accepts TCP connections. A connect is the
// cheapest honest answer to "would a call be routed right now".
import { connect } from 'node:net';
import type { ReadinessCheck } from '@im-mesh/platform';
import type { UpstreamLookup, UpstreamName } from './upstreams.js';

const NAMES: UpstreamName[] = ['auth', 'core', 'connect', 'connectWs'];

export function upstreamReadiness(upstreams: UpstreamLookup, timeoutMs = 1_000): ReadinessCheck[] {
  return NAMES.map((name) => ({ name: `upstream:${name}`, check: () => probe(upstreams(name), timeoutMs) }));
}

function probe(address: string, timeoutMs: number): Promise<void> {
  const index = address.lastIndexOf(':');
  const host = address.slice(0, index).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(index + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${address} did not accept a connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${address} is unreachable (${(error as NodeJS.ErrnoException).code ?? error.message})`));
    });
  });
}
