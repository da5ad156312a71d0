// Fault scenario: a poison push and unroutable publishes, both under a send storm.
// - Poison: two pushes no connect node can handle (an undecodable body, and an
//   envelope with nothing to act on) are published to a live node's queue as
//   core would publish, mid-storm. The node rejects them, the quorum queue
//   redelivers each up to the delivery limit (5) and then dead-letters it into
//   `im.push.dead-letter`; the node's own devices keep getting their messages.
//   The test sees the dead-lettered copies through a queue of its own bound to
//   the dead-letter (fanout) exchange, so the shared dead-letter queue is left
//   as it is.
// - Unroutable: a connect node is SIGKILLed and its queue deleted (as x-expires
//   does to a node gone for good) while its devices cannot reconnect for 5 s, so
//   presence still names the dead node: core's publishes to it come back as
//   returns, counted as "unroutable", and the devices get those messages by sync
//   once they are back on another node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import amqp, { type ConsumeMessage } from 'amqplib';
import { runFaultScenario } from './support/scenario.js';
import { BROKER_ADDRESS } from './support/split-system.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

const EXCHANGE = 'im.push';
const DEAD_LETTER_EXCHANGE = `${EXCHANGE}.dead-letter`;
const DELIVERY_LIMIT = 5;

test('a poison push reaches the dead-letter queue while its node keeps delivering, and publishes to a deleted node queue are unroutable and recovered by sync', async () => {
  const connection = await amqp.connect(`amqp://guest:guest@${BROKER_ADDRESS}`);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
    const tap = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(tap.queue, DEAD_LETTER_EXCHANGE, '');
    const deadLettered = new Map<string, ConsumeMessage>();
    await channel.consume(tap.queue, (message) => {
      if (message?.properties.messageId) deadLettered.set(String(message.properties.messageId), message);
    }, { noAck: true });

    await runFaultScenario({ label: 'poison_unroutable', convergeWithinMs: 45_000 }, async ({ system, fleet, history }) => {
      const storm = runStorm(history, ringSenders(fleet), { durationMs: 16_000, intervalMs: 120 });
      await sleep(3_000);

      // Poison, straight into node 1's queue.
      const poisonNode = system.nodeId(0);
      const poison = [
        { id: `poison-${randomUUID()}`, body: Buffer.from([0xff, 0xff, 0xff, 0xff]) },
        { id: `poison-${randomUUID()}`, body: Buffer.from(internalV1.PushEnvelope.encode(internalV1.PushEnvelope.fromPartial({})).finish()) },
      ];
      const shownBefore = history.shown.filter((shown) => fleet.devicesOn(0).some((device) => device.name === shown.device)).length;
      for (const push of poison) channel.publish(EXCHANGE, poisonNode, push.body, { persistent: true, mandatory: true, messageId: push.id });
      await channel.waitForConfirms();
      const poisonedAt = Date.now();
      const deadLetterMs = await until('both poison pushes to be dead-lettered', () => poison.every((push) => deadLettered.has(push.id)), 20_000);
      for (const push of poison) {
        const copy = deadLettered.get(push.id)!;
        assert.equal(copy.fields.routingKey, poisonNode, 'the dead-lettered copy keeps its node id as routing key');
        assert.equal(copy.properties.headers?.['x-first-death-queue'], `${EXCHANGE}.${poisonNode}`, 'it was dead-lettered from the node\'s queue');
      }
      const reason = deadLettered.get(poison[0]!.id)!.properties.headers?.['x-first-death-reason'];
      assert.equal(reason, 'delivery_limit', 'dead-lettered for reaching the delivery limit, not dropped or expired');
      // The node's devices kept showing messages around the poison.
      await until(
        'devices on the poisoned node to show messages sent after the poison',
        () => history.shown.some((shown) => shown.shownAt > history.now() - (Date.now() - poisonedAt) && fleet.devicesOn(0).some((device) => device.name === shown.device)),
        10_000,
      );
      console.log(
        `[fault-history] poison_unroutable: ${poison.length} poison pushes dead-lettered ${deadLetterMs} ms after publishing (reason ${String(reason)}, ` +
          `delivery limit ${DELIVERY_LIMIT}); the node's devices had shown ${shownBefore} messages before and kept going`,
      );

      // Unroutable: node 2 dies and its queue goes; its devices stay away for 5 s.
      const victims = fleet.devicesOn(1);
      assert.ok(victims.length > 0, 'some devices are connected to the node about to die');
      const unroutableBefore = await system.coreMetric('core_push_publishes_total', 'outcome="unroutable"');
      history.mark('fault');
      for (const device of victims) device.proxy.refuse();
      await system.connects[1]!.kill();
      await channel.deleteQueue(`${EXCHANGE}.${system.nodeId(1)}`);
      await sleep(5_000);
      const unroutable = (await system.coreMetric('core_push_publishes_total', 'outcome="unroutable"')) - unroutableBefore;
      for (const device of victims) device.proxy.heal();
      history.mark('healed');
      const dead = system.connects[1]!.httpAddress;
      const backMs = await until(
        'the dead node\'s devices to be connected to other nodes',
        () => victims.every((device) => device.client.state === 'connected' && device.proxy.liveTargets().some((target) => target !== dead)),
        20_000,
      );
      console.log(
        `[fault-history] poison_unroutable: ${unroutable} publishes to the deleted queue of ${system.nodeId(1)} came back unroutable; ` +
          `its ${victims.length} devices were back on other nodes ${backMs} ms after the heal`,
      );
      assert.ok(unroutable > 0, 'publishes to the deleted node queue were returned as unroutable');
      await storm;
    });
  } finally {
    await connection.close().catch(() => undefined);
  }
});
