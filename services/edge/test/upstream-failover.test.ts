// Several instances of one upstream behind the edge: calls spread round-robin;
// an instance that dies gets its circuit opened and the calls go to the others
// without the client noticing after the first few; once it is back, the circuit
// closes after its open period; the registry's list is followed live; and when
// every instance is down the caller hears UNAVAILABLE at once, in words.
// Breaker timings are shortened through the edge's config keys.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { WebSocket } from 'ws';
import { startCoreInstance, type CoreInstance } from './support/core-instance.js';
import { RegistryDouble } from './support/registry-double.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { deadAddress, startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();
const FAILURES = 3;
const OPEN_MS = 400;
const BREAKER = { EDGE_CIRCUIT_FAILURES: String(FAILURES), EDGE_CIRCUIT_OPEN_MS: String(OPEN_MS) };

type SendOutcome = { ok: true; servedBy: string } | { ok: false; code: Status; details: string };

async function send(channel: Channel, clientMsgId: string): Promise<SendOutcome> {
  const messages = createClient(messageV1.MessageServiceDefinition, channel);
  try {
    const sent = await messages.sendMessage(
      { target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId, content: undefined },
      { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }), signal: AbortSignal.timeout(5_000) },
    );
    return { ok: true, servedBy: sent.messageId.split(':')[0] ?? '' };
  } catch (error) {
    const { code, details } = error as { code: Status; details: string };
    return { ok: false, code, details };
  }
}

/** edge_upstream_circuit_state of one instance from /metrics: 0 closed, 1 half-open, 2 open; undefined when not listed. */
async function circuitState(edge: TestEdge, upstream: string, address: string): Promise<number | undefined> {
  const text = await (await fetch(`${edge.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((row) => row.startsWith('edge_upstream_circuit_state{') && row.includes(`upstream="${upstream}"`) && row.includes(`address="${address}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function tally(outcomes: SendOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.ok ? outcome.servedBy : `error:${Status[outcome.code]}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function sendMany(channel: Channel, prefix: string, count: number): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = [];
  for (let n = 0; n < count; n += 1) outcomes.push(await send(channel, `${prefix}-${n}`));
  return outcomes;
}

describe('edge over two core instances', () => {
  let doubles: UpstreamDoubles;
  let coreA: CoreInstance;
  let coreB: CoreInstance;
  let registry: RegistryDouble;
  let edge: TestEdge;
  let channel: Channel;

  before(async () => {
    const quiet = capturingLogger('doubles', [], 'silent');
    doubles = await startUpstreamDoubles(quiet, issuer);
    coreA = await startCoreInstance('core-a', quiet);
    coreB = await startCoreInstance('core-b', quiet);
  });
  after(async () => {
    coreA.stop();
    coreB.stop();
    await doubles.stop();
  });
  beforeEach(async () => {
    await coreA.start();
    await coreB.start();
    registry = new RegistryDouble({
      auth: [doubles.addresses.auth],
      core: [coreA.address, coreB.address],
      connect: [doubles.addresses.connect],
      'connect-ws': [doubles.addresses.connectWs],
    });
    edge = await startTestEdge({ registry }, BREAKER);
    channel = createChannel(edge.address);
  });
  afterEach(async () => {
    channel.close();
    await edge.stop();
  });

  test('calls spread round-robin across both instances', async () => {
    const counts = tally(await sendMany(channel, 'spread', 10));
    console.log('served:', counts);
    assert.deepEqual(counts, { 'core-a': 5, 'core-b': 5 });
  });

  test('NOT_FOUND and UNAVAILABLE answered by a live instance reach the caller and never open its circuit', async () => {
    const outcomes = [...(await sendMany(channel, 'missing', 2 * FAILURES + 2)), ...(await sendMany(channel, 'busy', 2 * FAILURES + 2))];
    for (const outcome of outcomes) assert.equal(outcome.ok, false);
    const codes = outcomes.map((outcome) => (outcome.ok ? 'OK' : Status[outcome.code]));
    assert.deepEqual([...new Set(codes)], ['NOT_FOUND', 'UNAVAILABLE']);
    assert.ok(outcomes.every((outcome) => !outcome.ok && /conversation does not exist|message store is busy/.test(outcome.details)));
    assert.equal(await circuitState(edge, 'core', coreA.address), 0);
    assert.equal(await circuitState(edge, 'core', coreB.address), 0);
    assert.deepEqual(tally(await sendMany(channel, 'after', 4)), { 'core-a': 2, 'core-b': 2 });
  });

  test('when one instance dies its circuit opens and calls keep succeeding on the other', async () => {
    assert.deepEqual(tally(await sendMany(channel, 'warm', 4)), { 'core-a': 2, 'core-b': 2 });
    coreB.stop();
    const servedByBBefore = coreB.served;
    const outcomes = await sendMany(channel, 'failover', 20);
    const errors = outcomes.filter((outcome) => !outcome.ok);
    console.log('after core-b died:', tally(outcomes));
    // Calls that were refused at connect are tried on core-a, so the client sees
    // no error at all here; a call in flight at the moment of death could fail.
    assert.ok(errors.length <= FAILURES, `${errors.length} client-visible errors`);
    assert.ok(outcomes.slice(FAILURES).every((outcome) => outcome.ok && outcome.servedBy === 'core-a'));
    assert.equal(coreB.served, servedByBBefore);
    assert.equal(await circuitState(edge, 'core', coreB.address), 2, 'core-b circuit is open');
    assert.equal(await circuitState(edge, 'core', coreA.address), 0, 'core-a circuit is closed');
    const ready = await fetch(`${edge.url}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
  });

  test('a restarted instance gets calls again once its open period is over, and its circuit closes', async () => {
    coreB.stop();
    await sendMany(channel, 'break', 2 * FAILURES);
    assert.equal(await circuitState(edge, 'core', coreB.address), 2);
    await coreB.start();
    // Still open: no call goes there until the period is over.
    const during = await sendMany(channel, 'during', 4);
    assert.deepEqual(tally(during), { 'core-a': 4 });
    await new Promise((resolve) => setTimeout(resolve, OPEN_MS + 50));
    const outcomes = await sendMany(channel, 'healed', 6);
    console.log('after core-b came back:', tally(outcomes));
    assert.ok(outcomes.every((outcome) => outcome.ok));
    assert.ok((tally(outcomes)['core-b'] ?? 0) >= 2, 'core-b serves again');
    assert.equal(await circuitState(edge, 'core', coreB.address), 0, 'core-b circuit closed again');
  });

  test('the registry list is followed live: a withdrawn instance gets no calls, a new one gets its share', async () => {
    registry.set('core', [coreA.address]);
    assert.deepEqual(tally(await sendMany(channel, 'only-a', 4)), { 'core-a': 4 });
    assert.equal(await circuitState(edge, 'core', coreB.address), undefined, 'a withdrawn instance leaves the gauge');
    registry.set('core', [coreA.address, coreB.address]);
    assert.deepEqual(tally(await sendMany(channel, 'both', 4)), { 'core-a': 2, 'core-b': 2 });
    registry.set('core', [coreB.address]);
    assert.deepEqual(tally(await sendMany(channel, 'only-b', 4)), { 'core-b': 4 });
    registry.set('core', []);
    const none = await send(channel, 'nobody');
    assert.ok(!none.ok && none.code === Status.UNAVAILABLE && /core service is unreachable right now \(no instance is registered\)/.test(none.details));
    const ready = await fetch(`${edge.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /upstream:core.*no instance is registered/);
  });

  test('when every instance is down, calls get UNAVAILABLE at once with a readable message and /readyz says why', async () => {
    coreA.stop();
    coreB.stop();
    // Each call tries both instances, so both circuits open within FAILURES calls.
    const first = await sendMany(channel, 'down', FAILURES);
    for (const outcome of first) {
      assert.ok(!outcome.ok && outcome.code === Status.UNAVAILABLE && /core service is unreachable/.test(outcome.details), JSON.stringify(outcome));
    }
    const started = Date.now();
    const fast = await send(channel, 'held-back');
    const elapsed = Date.now() - started;
    console.log(`UNAVAILABLE with every circuit open answered in ${elapsed} ms`);
    assert.ok(!fast.ok && fast.code === Status.UNAVAILABLE, JSON.stringify(fast));
    assert.match(fast.details, /every instance is failing/);
    assert.ok(elapsed < 250, `took ${elapsed} ms`);
    const web = await fetch(`${edge.url}/im.message.v1.MessageService/SendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', authorization: `Bearer ${issuer.accessToken()}` },
      body: Buffer.from([0, 0, 0, 0, 0]),
    });
    assert.match(Buffer.from(await web.arrayBuffer()).toString('latin1'), new RegExp(`grpc-status: ${Status.UNAVAILABLE}\\r\\ngrpc-message: .*every instance is failing`));
    const ready = await fetch(`${edge.url}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { failures: Record<string, string> };
    assert.deepEqual(Object.keys(body.failures), ['upstream:core']);
    assert.match(body.failures['upstream:core'] ?? '', /circuit of every instance is open/);
  });
});

describe('edge upstream lists from configuration', () => {
  test('CONNECT_WS_ADDRESS as a list: WebSockets skip a node that refuses connections, whose circuit then opens', async () => {
    const doubles = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const dead = await deadAddress();
    const edge = await startTestEdge(null, {
      AUTH_ADDRESS: doubles.addresses.auth,
      CORE_ADDRESS: doubles.addresses.core,
      CONNECT_ADDRESS: doubles.addresses.connect,
      CONNECT_WS_ADDRESS: `${dead}, ${doubles.addresses.connectWs}`,
      ...BREAKER,
    });
    try {
      for (let n = 0; n < 2 * FAILURES; n += 1) {
        const socket = await new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1']);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
        });
        const echoed = new Promise<Buffer>((resolve) => socket.once('message', (data) => resolve(data as Buffer)));
        socket.send(Buffer.from([n]));
        assert.deepEqual([...(await echoed)], [n]);
        socket.close();
      }
      assert.equal(await circuitState(edge, 'connectWs', dead), 2, 'the dead node circuit is open');
      assert.equal(await circuitState(edge, 'connectWs', doubles.addresses.connectWs), 0);
    } finally {
      await edge.stop();
      await doubles.stop();
    }
  });
});
