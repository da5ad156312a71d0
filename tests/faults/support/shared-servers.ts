// Fault tests run against the Redis and RabbitMQ of this machine. When one is not
// there, fail at once with the command that starts it, instead of a service
// process timing out with a less helpful message (PostgreSQL is checked by
// createTestDatabase the same way).
import { connect } from 'node:net';

const SERVERS = [
  {
    name: 'Redis',
    port: 6379,
    start: `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log`,
  },
  { name: 'RabbitMQ', port: 5672, start: 'rabbitmq-server -detached' },
];

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function requireSharedServers(): Promise<void> {
  for (const server of SERVERS) {
    if (!(await reachable(server.port))) {
      throw new Error(`These fault tests need ${server.name} at 127.0.0.1:${server.port}. Start it with: ${server.start}`);
    }
  }
}
