// Fault scenario: a device that acks badly under a send storm. A raw WebSocket
// device of user 0 acks what it is pushed in reverse order and twice over, mixes
// in ids nobody sent and ids of other users' messages, claims "delivered up to"
// far ahead in conversations it is not a member of, and now and then sends an
// ack with an invalid entry. None of that may disturb anyone else's delivery or
// receipts, and no watermark may move past what its device really got:
// - every SDK device still shows every message once and in order (the checker);
// - every stored delivered_seq is at most the highest seq that device was shown
//   (the rogue: pushed), and the rogue has no watermark outside its own
//   conversations;
// - the rogue's own out-of-order, duplicated acks still count: its watermark
//   ends at the highest seq it was pushed;
// - senders' DELIVERED receipts never claim more than the peer's devices got,
//   and end at what they got.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { messageV1, type connectV1 } from '@im-mesh/contracts';
import pg from 'pg';
import { finalOutcome, type History } from './support/history.js';
import { RawDevice } from './support/raw-device.js';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

interface Cursor {
  conversationId: string;
  userId: string;
  deviceId: string;
  deliveredSeq: number;
}

async function readCursors(databaseUrl: string): Promise<Cursor[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ conversation_id: string; user_id: string; device_id: string; delivered_seq: string }>(
      'SELECT conversation_id, user_id, device_id, delivered_seq FROM core.device_cursors',
    );
    return rows.map((row) => ({ conversationId: row.conversation_id, userId: row.user_id, deviceId: row.device_id, deliveredSeq: Number(row.delivered_seq) }));
  } finally {
    await client.end();
  }
}

/** Per device and conversation: the highest seq shown, and the highest seq shown of a message someone else sent. */
function shownWatermarks(history: History): Map<string, { shown: number; fromOthers: number }> {
  const userOf = new Map([...history.devices.values()].map((device) => [device.name, device.userId]));
  const marks = new Map<string, { shown: number; fromOthers: number }>();
  for (const shown of history.shown) {
    const key = `${shown.device}|${shown.conversationId}`;
    const mark = marks.get(key) ?? { shown: 0, fromOthers: 0 };
    mark.shown = Math.max(mark.shown, shown.seq);
    if (shown.senderId !== userOf.get(shown.device)) mark.fromOthers = Math.max(mark.fromOthers, shown.seq);
    marks.set(key, mark);
  }
  return marks;
}

test('acks out of order, duplicated, for unknown ids and for other users\' messages under a storm: nobody\'s delivery, receipts or watermarks suffer', async () => {
  await runFaultScenario({ label: 'bad_acks', convergeWithinMs: 30_000 }, async ({ system, fleet, history }) => {
    const victim = fleet.users[0]!;
    const rogue = await RawDevice.open(system.edgeUrl, `ws://${system.connects[0]!.httpAddress}/ws`, victim, 'u0-rogue');
    // The highest DELIVERED receipt each SDK device heard, per conversation and peer.
    const receipts = new Map<string, number>();
    for (const device of fleet.devices.values()) {
      device.client.onReceipt((receipt) => {
        if (receipt.kind !== messageV1.ReceiptKind.RECEIPT_KIND_DELIVERED) return;
        const key = `${device.name}|${receipt.conversationId}|${receipt.userId}`;
        receipts.set(key, Math.max(receipts.get(key) ?? 0, receipt.seq));
      });
    }
    // Other users' messages, as their send answers named them.
    const foreign = () =>
      [...history.sends.values()]
        .map(finalOutcome)
        .flatMap((outcome) => (outcome.kind === 'ok' ? [outcome] : []))
        .filter((outcome) => !rogue.pushes.some((push) => push.conversationId === outcome.conversationId));
    let acked = 0;
    let rounds = 0;
    const ackBadly = (): void => {
      rounds += 1;
      const fresh = rogue.pushes.slice(acked).map((push) => push.messageId);
      acked += fresh.length;
      const others = foreign().slice(-10);
      const ids = [...[...fresh].reverse(), ...fresh, randomUUID(), randomUUID(), ...others.map((outcome) => outcome.messageId)];
      const delivered: connectV1.DeliveredUpTo[] = others.slice(0, 2).map((outcome) => ({ conversationId: outcome.conversationId, seq: 1_000_000 }));
      if (rounds % 10 === 0) {
        // One invalid entry refuses the whole ack (ids included); the next round acks them again.
        rogue.sendAck(ids, [{ conversationId: others[0]?.conversationId ?? randomUUID(), seq: 0 }]);
        acked -= fresh.length;
        return;
      }
      rogue.sendAck(ids, delivered);
      // And everything so far once more, oldest last.
      if (rounds % 4 === 0) rogue.sendAck(rogue.pushes.map((push) => push.messageId).reverse());
    };
    const acking = setInterval(ackBadly, 250);
    try {
      history.mark('fault');
      await runStorm(history, ringSenders(fleet), { durationMs: 10_000, intervalMs: 120 });
      assert.ok(await history.waitForConvergence(30_000), 'every SDK device shows every acked send');
      await sleep(500);
      clearInterval(acking);
      ackBadly();
      if (rounds % 10 === 0) ackBadly();
      history.mark('healed');

      const rogueId = rogue.authenticated!;
      const ownConversations = new Set([...history.sends.values()].map(finalOutcome).flatMap((o) => (o.kind === 'ok' ? [o.conversationId] : [])));
      const pushedTo = rogue.highestPushed();
      assert.ok(pushedTo.size > 0 && [...pushedTo.values()].every((seq) => seq > 0), 'the rogue device was pushed messages');
      assert.ok(rogue.errors.some((error) => error.reason === 'ACK_INVALID'), 'an ack with an invalid entry is refused with ACK_INVALID');
      const marks = shownWatermarks(history);
      const byDevice = new Map([...fleet.devices.values()].map((device) => [`${device.userId}|${device.name}`, device]));

      // Watermarks settle (acks are batched) at exactly what each device got, never beyond.
      let cursors: Cursor[] = [];
      const problems = (): string[] => {
        const found: string[] = [];
        for (const cursor of cursors) {
          if (cursor.userId === rogueId.userId && cursor.deviceId === rogueId.deviceId) {
            const pushed = pushedTo.get(cursor.conversationId);
            if (pushed === undefined) found.push(`rogue has a watermark ${cursor.deliveredSeq} in ${cursor.conversationId}, which it was never pushed`);
            else if (cursor.deliveredSeq > pushed) found.push(`rogue watermark ${cursor.deliveredSeq} is past the highest seq it was pushed (${pushed}) in ${cursor.conversationId}`);
            continue;
          }
          const device = byDevice.get(`${cursor.userId}|${cursor.deviceId}`);
          if (!device) {
            found.push(`a watermark for an unknown device ${cursor.userId}/${cursor.deviceId}`);
            continue;
          }
          const mark = marks.get(`${device.name}|${cursor.conversationId}`);
          if (!mark || cursor.deliveredSeq > mark.shown) {
            found.push(`${device.name} watermark ${cursor.deliveredSeq} is past what it showed (${mark?.shown ?? 0}) in ${cursor.conversationId}`);
          }
        }
        return found;
      };
      const settled = (): string[] => {
        const behind: string[] = [];
        for (const [conversationId, pushed] of pushedTo) {
          const cursor = cursors.find((c) => c.deviceId === rogueId.deviceId && c.userId === rogueId.userId && c.conversationId === conversationId);
          if ((cursor?.deliveredSeq ?? 0) !== pushed) behind.push(`rogue at ${cursor?.deliveredSeq ?? 0} of ${pushed} in ${conversationId}`);
        }
        for (const [key, mark] of marks) {
          const [name, conversationId] = key.split('|') as [string, string];
          const device = fleet.devices.get(name)!;
          const cursor = cursors.find((c) => c.deviceId === name && c.userId === device.userId && c.conversationId === conversationId);
          if ((cursor?.deliveredSeq ?? 0) < mark.fromOthers) behind.push(`${name} at ${cursor?.deliveredSeq ?? 0} of ${mark.fromOthers} in ${conversationId}`);
        }
        return behind;
      };
      const settleMs = await until(
        'every watermark to reach what its device got',
        async () => {
          cursors = await readCursors(system.databaseUrl);
          assert.deepEqual(problems(), [], 'no watermark is past what its device got');
          return settled().length === 0;
        },
        15_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; still behind: ${settled().slice(0, 5).join('; ')}`);
      });
      const foreignCursors = cursors.filter((cursor) => cursor.deviceId === rogueId.deviceId && !ownConversations.has(cursor.conversationId));
      assert.deepEqual(foreignCursors, [], 'the rogue device has no watermark outside its conversations');

      // Receipts: what a peer's devices got, never more, and in the end all of it.
      const furthest = new Map<string, number>();
      for (const cursor of cursors) {
        const key = `${cursor.conversationId}|${cursor.userId}`;
        furthest.set(key, Math.max(furthest.get(key) ?? 0, cursor.deliveredSeq));
      }
      const receiptGaps = (): string[] => {
        const gaps: string[] = [];
        for (const [key, seq] of receipts) {
          const [name, conversationId, peer] = key.split('|') as [string, string, string];
          const got = furthest.get(`${conversationId}|${peer}`) ?? 0;
          if (seq > got) gaps.push(`${name} heard delivered ${seq} from ${peer} in ${conversationId}, whose devices got ${got}`);
        }
        return gaps;
      };
      assert.deepEqual(receiptGaps(), [], 'no receipt claims more than the peer\'s devices got');
      const receiptsMs = await until(
        'every sender to hear the final delivered receipt',
        () =>
          [...history.sends.values()].every((record) => {
            const outcome = finalOutcome(record);
            if (outcome.kind !== 'ok') return true;
            const got = furthest.get(`${outcome.conversationId}|${record.recipientUserId}`) ?? 0;
            return (receipts.get(`${record.senderDevice}|${outcome.conversationId}|${record.recipientUserId}`) ?? 0) >= got;
          }),
        15_000,
      );
      console.log(
        `[fault-history] bad_acks: rogue pushed ${rogue.pushes.length} messages in ${pushedTo.size} conversations, ${rounds} bad ack rounds, ` +
          `${rogue.errors.length} refused; ${cursors.length} watermarks settled ${settleMs} ms after the storm, receipts ${receiptsMs} ms later`,
      );
    } finally {
      clearInterval(acking);
      rogue.close();
    }
  });
});
