// group-fanout: the 200-member group at 50 msg/s and 500-member group
// at saturation, on the group API. N users with one device each log in through
// the edge; one of them creates the group with the other N - 1 as members
// (GroupService.CreateGroup through the edge); every member device holds a
// connection. Members send with SendMessage{conversation_id: group id}: core
// checks the sender's membership in the send transaction, the relay reads the
// members and their device routes and publishes one envelope per connect node,
// and the node writes a frame to each of the other N - 1 members' devices (the
// sending device is not pushed its own message), which ack.
//
// Phase 1: open loop at a fixed rate into the smaller group, latency from the
// SendMessage call to each member's decoded frame. Phase 2: a few senders in
// closed loop into the larger group, deliveries per second.
import { createUsers, type BenchUser } from '../harness/accounts.js';
import { GroupSetup, type BenchGroup } from '../harness/groups.js';
import {
  addSends,
  collectAll,
  HISTOGRAM_EDGES_MS,
  latencyBetween,
  lossOf,
  mergedSeries,
  monotonicNs,
  noSends,
  openReceivers,
  ratePerSecond,
  round,
  runSends,
  seriesPoints,
  waitForDrain,
} from '../harness/message-load.js';
import type { GroupSender, ReceiverSpec, SendResult } from '../harness/load-protocol.js';
import { durationOf, windowOf, type ScenarioContext, type ScenarioResult } from '../harness/scenario.js';
import { WorkerPool } from '../harness/worker-pool.js';

/** Core renders a new group's picture after 1.5 s of quiet membership (CORE_GROUP_AVATAR_QUIET_MS); far more than that means it will not. */
const PICTURE_WAIT_MS = 30_000;

export async function groupFanout(context: ScenarioContext): Promise<ScenarioResult> {
  const real = context.size === 'real';
  const smallGroupSize = real ? 200 : 5;
  const largeGroupSize = real ? 500 : 10;
  const fixedRate = real ? 50 : 10;
  const fixedSenderCount = real ? 10 : 2;
  const saturationSenderCount = real ? 4 : 2;
  const saturationInFlight = 4;
  const durationMs = durationOf(context, 30_000, 3_000);
  const edgeUrl = context.system.edgeUrl;

  context.log(`  logging in ${smallGroupSize + largeGroupSize} members, one device each`);
  const smallMembers = await createUsers(edgeUrl, 'grp-s', smallGroupSize, 1, (done, total) => context.progress(`  logins ${done}/${total}`));
  const largeMembers = await createUsers(edgeUrl, 'grp-l', largeGroupSize, 1, (done, total) => context.progress(`  logins ${done}/${total}`));
  const setup = new GroupSetup(edgeUrl);
  let small: BenchGroup;
  let large: BenchGroup;
  let picturesRendered: boolean;
  try {
    small = await formGroup(setup, smallMembers, `bench fan-out ${smallGroupSize}`);
    large = await formGroup(setup, largeMembers, `bench fan-out ${largeGroupSize}`);
    context.log(`  groups of ${smallGroupSize} and ${largeGroupSize} members created; waiting for their pictures`);
    const rendered = await Promise.all([
      setup.waitForPicture(smallMembers[0]!.devices[0]!, small.groupId, PICTURE_WAIT_MS),
      setup.waitForPicture(largeMembers[0]!.devices[0]!, large.groupId, PICTURE_WAIT_MS),
    ]);
    picturesRendered = rendered.every(Boolean);
  } finally {
    setup.close();
  }

  // Receiver ids: the small group's members first, then the large group's.
  const receivers: ReceiverSpec[] = [...smallMembers, ...largeMembers].map((user, id) => ({
    id,
    userId: user.userId,
    accessToken: user.devices[0]!.accessToken,
    url: context.system.edgeWsUrl,
  }));
  const sendersOf = (group: BenchGroup, firstReceiverId: number, count: number): GroupSender[] =>
    Array.from({ length: count }, (_, i) => ({ accessToken: receivers[firstReceiverId + i]!.accessToken, groupId: group.groupId, receiverId: firstReceiverId + i }));
  const fixedSenders = sendersOf(small, 0, fixedSenderCount);
  const saturationSenders = sendersOf(large, smallGroupSize, saturationSenderCount);
  const membersOf = new Map([
    [small.groupId, small.memberUserIds],
    [large.groupId, large.memberUserIds],
  ]);
  // One device per member, and the sending device is not pushed its own message.
  const deliveriesOf = (sends: SendResult): number =>
    Object.entries(sends.ackedPerConversation).reduce((sum, [groupId, acked]) => sum + acked * (membersOf.get(groupId)!.length - 1), 0);

  const pool = await WorkerPool.start(WorkerPool.sizeFor(receivers.length), edgeUrl);
  try {
    // Synced after opening: the groups' setup events (created, picture) are history, not sends to count.
    await openReceivers(context, pool, receivers, 100, true);
    const all = noSends();
    // Warm-up, not measured: every sender's first call opens the worker's HTTP/2 connection and fills core's caches.
    addSends(all, await runSends(context, pool, [...fixedSenders, ...saturationSenders], { kind: 'count', count: 1, inFlight: 1 }, 'warm-up'));
    await waitForDrain(context, pool, deliveriesOf(all));
    await betweenPhases();

    const fixedFrom = monotonicNs();
    const fixed = await runSends(context, pool, fixedSenders, { kind: 'open', ratePerSecond: fixedRate, durationMs }, `${smallGroupSize} members at ${fixedRate} msg/s`);
    const fixedTo = monotonicNs();
    addSends(all, fixed);
    await waitForDrain(context, pool, deliveriesOf(all));
    // Until the drain ended, so the phase's last sends are in its percentiles.
    const fixedDrained = monotonicNs();
    await betweenPhases();

    const saturationFrom = monotonicNs();
    const saturation = await runSends(context, pool, saturationSenders, { kind: 'closed', inFlight: saturationInFlight, durationMs }, `${largeGroupSize} members, saturation`);
    const saturationTo = monotonicNs();
    addSends(all, saturation);
    await waitForDrain(context, pool, deliveriesOf(all), 5_000, 120_000);

    const collected = await collectAll(pool);
    const series = mergedSeries(collected);
    const fixedLatency = latencyBetween(series, fixedFrom, fixedDrained);
    const saturationLatency = latencyBetween(series, saturationFrom, saturationTo);
    const deliveriesPerSecond = ratePerSecond(series, saturationFrom, saturationTo, 'deliveries');
    const fixedP99 = round(fixedLatency.quantileMs(0.99));
    const groupEventsPushed = collected.reduce((sum, part) => sum + part.otherMessages, 0);
    return {
      scenario: 'group-fanout',
      mode: context.system.mode,
      size: context.size,
      parameters: {
        smallGroupMembers: smallGroupSize,
        largeGroupMembers: largeGroupSize,
        devicesPerMember: 1,
        fixedRatePerSecond: fixedRate,
        fixedSenders: fixedSenderCount,
        saturationSenders: saturationSenderCount,
        saturationInFlightPerSender: saturationInFlight,
        durationPerPhaseMs: durationMs,
        receiverPath: 'edge /ws',
        senderPath: 'edge gRPC SendMessage{conversation_id: group id}',
      },
      metrics: {
        sendsAcked: all.ok,
        sendsFailed: all.failed,
        sendsShed: all.shed,
        fixed_sendsAcked: fixed.ok,
        fixed_deliveriesPerSecond: ratePerSecond(series, fixedFrom, fixedTo, 'deliveries'),
        fixed_p50Ms: round(fixedLatency.quantileMs(0.5)),
        fixed_p99Ms: fixedP99,
        fixed_maxMs: round(fixedLatency.maxUs / 1000),
        saturation_sendsAcked: saturation.ok,
        saturation_sendsPerSecond: round(saturation.ok / (Number(saturationTo - saturationFrom) / 1e9)),
        saturation_deliveriesPerSecond: deliveriesPerSecond,
        saturation_p50Ms: round(saturationLatency.quantileMs(0.5)),
        saturation_p99Ms: round(saturationLatency.quantileMs(0.99)),
        groupEventsPushed,
      },
      targets: real
        ? [
            { what: `p99, ${smallGroupSize}-member group at ${fixedRate} msg/s`, unit: 'ms', measured: fixedP99, target: 50, goal: 12, higherIsBetter: false },
            { what: `deliveries/s, ${largeGroupSize}-member group at saturation`, unit: 'deliveries/s', measured: deliveriesPerSecond, target: 20_000, goal: 50_000, higherIsBetter: true },
          ]
        : [],
      loss: lossOf(receivers, all, collected, membersOf),
      series: seriesPoints(series, fixedFrom, saturationTo),
      histogram: fixedLatency.bins(HISTOGRAM_EDGES_MS),
      notes: [
        `Each member is a user with one device; a send reaches the other ${smallGroupSize - 1} or ${largeGroupSize - 1} members' devices (the sending device is not pushed its own message), and the expected deliveries in the loss check are counted that way.`,
        'Each group was created by one CreateGroup call (it takes up to the member limit, 2,000, minus the owner). The senders are members: the first ones of each group, the owner among them.',
        'The histogram is the fixed-rate phase; the series covers both phases.',
        ...(picturesRendered
          ? []
          : [`A group picture was not rendered within ${PICTURE_WAIT_MS / 1000} s of setup: its render and event may fall in a measured phase.`]),
        ...(groupEventsPushed > 0 ? [`${groupEventsPushed} group-event pushes arrived while connected (not bench sends: neither timed nor in the loss counts).`] : []),
        ...(all.errors.length > 0 ? [`send errors (first ones): ${[...new Set(all.errors)].slice(0, 3).join('; ')}`] : []),
      ],
      windows: { fixed: windowOf(fixedFrom, fixedTo), saturation: windowOf(saturationFrom, saturationTo) },
    };
  } finally {
    await pool.close();
  }
}

/** The first user owns the group; the others are its members. */
function formGroup(setup: GroupSetup, members: BenchUser[], name: string): Promise<BenchGroup> {
  return setup.create(members[0]!.devices[0]!, members.map((user) => user.userId), name);
}

/**
 * The series is kept per whole second: a second of idle between phases keeps
 * one phase's deliveries (a warm-up's cold sends, a saturated phase's delays)
 * out of the seconds counted for the next.
 */
function betweenPhases(): Promise<void> {
  return new Promise((done) => setTimeout(done, 1_000));
}
