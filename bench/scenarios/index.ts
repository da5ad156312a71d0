// The scenarios of issue 6, by the name the command line uses, in the order `all` runs them.
import type { Scenario } from '../harness/scenario.js';
import { baselines } from './baselines.js';
import { connections } from './connections.js';
import { groupFanout } from './group-fanout.js';
import { latency1to1 } from './latency-1to1.js';
import { reconnectStorm } from './reconnect-storm.js';
import { throughput1to1 } from './throughput-1to1.js';

export const SCENARIOS: Record<string, Scenario> = {
  baselines,
  connections,
  'throughput-1to1': throughput1to1,
  'latency-1to1': latency1to1,
  'group-fanout': groupFanout,
  'reconnect-storm': reconnectStorm,
};
