// The frame every fault scenario shares: start the split system and the fleet,
// let the scenario run its storm and fault, then resolve sends of unknown
// outcome once (same client_msg_id, as an app does after reconnecting), wait
// until every device converged (or the time is up), check the history, print
// the counters, tear everything down, and fail on any broken promise. On a
// failure the services' logs are written to a file named in the message.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type FleetOptions } from './fleet.js';
import { History } from './history.js';
import { assertDeliveryPromiseKept, checkHistory, formatReport, type HistoryReport } from './history-checker.js';
import { SplitSystem, type SplitSystemOptions } from './split-system.js';
import { sleep } from './storm.js';

export interface ScenarioContext {
  readonly system: SplitSystem;
  readonly fleet: Fleet;
  readonly history: History;
}

export interface ScenarioOptions extends SplitSystemOptions, Partial<FleetOptions> {
  /** How long devices get to show every acked send after the scenario body, in ms. Default 30,000. */
  convergeWithinMs?: number;
}

export async function runFaultScenario(options: ScenarioOptions, body: (context: ScenarioContext) => Promise<void>): Promise<HistoryReport> {
  const phases: string[] = [];
  let phaseStart = Date.now();
  const phase = (name: string): void => {
    phases.push(`${name} ${((Date.now() - phaseStart) / 1000).toFixed(1)}s`);
    phaseStart = Date.now();
  };
  const system = await SplitSystem.start(options);
  phase('start');
  let fleet: Fleet | undefined;
  let report: HistoryReport | undefined;
  let failure: unknown;
  const history = new History(options.label);
  try {
    fleet = await Fleet.start(system, history, { users: options.users ?? 4, devicesPerUser: options.devicesPerUser ?? 2 });
    phase('devices');
    await body({ system, fleet, history });
    phase('scenario');
    await history.retryUnknown(fleet.devices);
    const converged = await history.waitForConvergence(options.convergeWithinMs ?? 30_000);
    // A duplicate or a late push would show up within this window.
    await sleep(1_500);
    report = checkHistory(history);
    phase('converge');
    if (!converged) console.log(`[fault-history] ${options.label}: devices had not converged after ${options.convergeWithinMs ?? 30_000} ms`);
  } catch (error) {
    failure = error;
    // The counters so far, to go with the failure.
    console.log(formatReport(checkHistory(history)));
  }
  await fleet?.close().catch((error: unknown) => console.log(`[fault-history] ${options.label}: closing the devices failed: ${String(error)}`));
  const stopped = await system.stop();
  phase('stop');
  console.log(`[fault-history] ${options.label}: phases ${phases.join(', ')}`);
  const unclean = Object.entries(stopped).filter(([, { code, ms }]) => code !== 0 || ms > 5_000);
  if (unclean.length > 0) console.log(`[fault-history] ${options.label}: slow or unclean SIGTERM stops: ${JSON.stringify(Object.fromEntries(unclean))}`);
  try {
    if (failure !== undefined) throw failure;
    assertDeliveryPromiseKept(report!);
  } catch (error) {
    keepLogs(system, options.label);
    throw error;
  }
  return report!;
}

function keepLogs(system: SplitSystem, label: string): void {
  const path = join(tmpdir(), `im-fault-${label}-${system.run}.log`);
  writeFileSync(path, system.outputs());
  console.log(`[fault-history] ${label}: service logs kept in ${path}`);
}
