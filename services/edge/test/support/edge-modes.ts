// The two ways the edge reaches the services, for suites that must pass in both:
// every call forwarded over gRPC (the distributed deployment), and unary calls
// run in-process (the all-in-one). In the second, core's gRPC address is dead, so
// a core call can only succeed in-process: a suite passing there proves the path
// is taken and that clients cannot tell the difference.
import { startTestEdge, type TestEdge } from './test-edge.js';
import { deadAddress, type UpstreamDoubles } from './upstream-doubles.js';

export const EDGE_MODES: ReadonlyArray<{ mode: string; startEdge: (upstreams: UpstreamDoubles) => Promise<TestEdge> }> = [
  { mode: 'forwarded over gRPC', startEdge: (upstreams) => startTestEdge(upstreams.addresses) },
  {
    mode: 'unary calls served in-process (core unreachable over gRPC)',
    startEdge: async (upstreams) =>
      startTestEdge({ ...upstreams.addresses, core: await deadAddress() }, {}, undefined, { localCalls: upstreams.localCalls }),
  },
];
