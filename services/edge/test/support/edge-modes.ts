// The two ways the edge reaches the services, for suites that must pass in both:
// every call forwarded over gRPC (the distributed deployment), and unary calls
// run in-process (the all-in-one). In the second, core's gRPC address is dead, so
// a core call can only succeed in-process, and every in-process call is counted
// by path, so a suite can check that auth's calls took that path too.
import type { LocalUnaryCalls } from '@im-mesh/platform';
import { startTestEdge, type TestEdge } from './test-edge.js';
import { deadAddress, type UpstreamDoubles } from './upstream-doubles.js';

export interface EdgeMode {
  mode: string;
  inProcess: boolean;
  startEdge(upstreams: UpstreamDoubles): Promise<TestEdge>;
  /** Calls served in-process, by method path. */
  servedInProcess: Map<string, number>;
}

function counted(calls: LocalUnaryCalls, served: Map<string, number>): LocalUnaryCalls {
  return {
    maxMessageBytes: calls.maxMessageBytes,
    unary(path) {
      const handler = calls.unary(path);
      return (
        handler &&
        ((request) => {
          served.set(path, (served.get(path) ?? 0) + 1);
          return handler(request);
        })
      );
    },
  };
}

function inProcessMode(): EdgeMode {
  const servedInProcess = new Map<string, number>();
  return {
    mode: 'unary calls served in-process (core unreachable over gRPC)',
    inProcess: true,
    servedInProcess,
    startEdge: async (upstreams) => {
      const { auth, core, connect } = upstreams.localCalls;
      return startTestEdge({ ...upstreams.addresses, core: await deadAddress() }, {}, undefined, {
        localCalls: { auth: counted(auth, servedInProcess), core: counted(core, servedInProcess), connect: counted(connect, servedInProcess) },
      });
    },
  };
}

export const EDGE_MODES: readonly EdgeMode[] = [
  { mode: 'forwarded over gRPC', inProcess: false, servedInProcess: new Map(), startEdge: (upstreams) => startTestEdge(upstreams.addresses) },
  inProcessMode(),
];
