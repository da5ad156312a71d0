// /readyz for the edge: every upstream has at least one instance that would take
// a call now. That is an instance listed by the registry whose circuit is closed
// or half-open (or open with its period over), and which accepts a TCP
// connection: a connect is the cheapest honest answer to "would a call be routed
// right now", and it catches an instance that is down but has seen no call yet.
import { connect } from 'node:net';
import type { ReadinessCheck } from '@im-mesh/platform';
import type { UpstreamPool } from './upstream-pool.js';
import { UPSTREAM_NAMES, type UpstreamName } from './upstreams.js';

export function upstreamReadiness(poolOf: (name: UpstreamName) => UpstreamPool, timeoutMs = 1_000): ReadinessCheck[] {
  return UPSTREAM_NAMES.map((name) => ({ name: `upstream:${name}`, check: () => anyInstanceReady(poolOf(name), timeoutMs) }));
}

async function anyInstanceReady(pool: UpstreamPool, timeoutMs: number): Promise<void> {
  const listed = pool.addresses();
  if (listed.length === 0) {
    throw new Error(pool.hasReport ? 'no instance is registered' : 'the service registry has not listed any instance yet');
  }
  const serving = pool.servingAddresses();
  if (serving.length === 0) throw new Error(`the circuit of every instance is open (${listed.join(', ')})`);
  try {
    await Promise.any(serving.map((address) => probe(address, timeoutMs)));
  } catch (error) {
    const reasons = (error as AggregateError).errors.map((reason: Error) => reason.message);
    throw new Error(reasons.join('; '));
  }
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
