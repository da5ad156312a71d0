// Fault scenario (f): the same client_msg_id sent five times at once through the
// edge, as a client that retries eagerly on a flaky network does. The split
// system must store one message, answer all five calls identically, and every
// recipient device must show it once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { runFaultScenario } from './support/scenario.js';

const ROUNDS = 20;

test('the same client message id sent 5 times concurrently is stored once, answered identically five times and shown once', async () => {
  await runFaultScenario({ label: 'same_client_msg_id', connectNodes: 2, users: 2, devicesPerUser: 2 }, async ({ fleet, history }) => {
    const [alice, bob] = fleet.users;
    const sender = alice!.devices[0]!;
    for (let round = 0; round < ROUNDS; round += 1) {
      const clientMsgId = randomUUID();
      await Promise.all(Array.from({ length: 5 }, () => history.send(sender, bob!.userId, { clientMsgId })));
      const record = history.sends.get(`${alice!.userId}/${clientMsgId}`)!;
      const answers = record.attempts.map((attempt) => attempt.outcome);
      assert.deepEqual(
        answers.map((answer) => answer.kind),
        ['ok', 'ok', 'ok', 'ok', 'ok'],
        `round ${round}: every call is answered: ${JSON.stringify(answers)}`,
      );
      const distinct = new Set(answers.map((answer) => (answer.kind === 'ok' ? `${answer.messageId} ${answer.conversationId} ${answer.seq} ${answer.sentAtMs}` : '')));
      assert.equal(distinct.size, 1, `round ${round}: five identical answers, got ${[...distinct].join(' / ')}`);
      const first = answers[0]!;
      assert.equal(first.kind === 'ok' && first.seq, round + 1, `round ${round}: one message stored per round, so the seq grows by one`);
    }
    const devices = [...alice!.devices.slice(1), ...bob!.devices];
    const everyone = () => devices.every((device) => history.shown.filter((shown) => shown.device === device.name).length >= ROUNDS);
    const deadline = Date.now() + 15_000;
    while (!everyone() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  });
});
