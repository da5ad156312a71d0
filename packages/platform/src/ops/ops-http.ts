// Operator endpoints over plain HTTP: /healthz (the process is alive), /readyz
// (every dependency check passes) and /metrics (Prometheus). Shared by the
// standalone ops server and the edge, which serves them on its public port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { renderMetrics } from '../metrics/metrics.js';

/** Resolves when the dependency is usable; rejects with a reason otherwise. */
export type ReadinessCheck = { name: string; check: () => Promise<void> };

export interface OpsEndpoints {
  registries: Registry[];
  readiness: ReadinessCheck[];
  /** False while draining, so load balancers stop sending work before shutdown. */
  isAccepting: () => boolean;
}

/** Handles the request and returns true when the path is an ops endpoint. */
export async function handleOpsRequest(ops: OpsEndpoints, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return true;
  }
  if (path === '/readyz') {
    const failures: Record<string, string> = {};
    await Promise.all(
      ops.readiness.map(async ({ name, check }) => {
        try {
          await check();
        } catch (error) {
          failures[name] = (error as Error).message;
        }
      }),
    );
    if (!ops.isAccepting()) failures.shutdown = 'draining';
    const ready = Object.keys(failures).length === 0;
    res
      .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
      .end(JSON.stringify(ready ? { status: 'ready' } : { status: 'not_ready', failures }));
    return true;
  }
  if (path === '/metrics') {
    const { contentType, body } = await renderMetrics(ops.registries);
    res.writeHead(200, { 'content-type': contentType }).end(body);
    return true;
  }
  return false;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface ServiceHttpServer {
  server: Server;
  /** "host:port" as bound. */
  address: string;
  close(): Promise<void>;
}

/**
 * Starts a service's HTTP server: `handlers` first (in order; the first that
 * returns true answered), then the ops endpoints, else 404.
 */
export async function startServiceHttpServer(
  host: string,
  port: number,
  ops: OpsEndpoints,
  handlers: HttpHandler[] = [],
): Promise<ServiceHttpServer> {
  const server = createServer((req, res) => {
    void (async () => {
      for (const handle of handlers) if (await handle(req, res)) return;
      if (await handleOpsRequest(ops, req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
      // The handler failed after answering or mid-answer; nothing else to tell the client.
      void error;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    server,
    address: `${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
