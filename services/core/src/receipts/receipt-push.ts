// Pushes receipts straight to devices (no outbox): receipts are watermarks that
// SyncConversations also reports, so a lost receipt push costs nothing but a
// later sync. Failures are logged, never returned to the caller.
import { connectV1, type messageV1 } from '@im-mesh/contracts';
import type { DeviceRoute, Logger } from '@im-mesh/platform';
import type { Pusher } from '../push/pusher.js';

export interface ReceiptDelivery {
  receipt: messageV1.Receipt;
  /** Users whose devices should see the receipt. */
  userIds: readonly string[];
  /** Devices to leave out even though their user is listed (the one that caused it). */
  skip?: (route: DeviceRoute) => boolean;
}

export async function pushReceipts(pusher: Pusher, logger: Logger, deliveries: readonly ReceiptDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  let routes: Map<string, DeviceRoute[]>;
  try {
    routes = await pusher.routesOf(deliveries.flatMap((d) => d.userIds));
  } catch (error) {
    logger.warn({ err: error }, 'receipts not pushed: presence lookup failed (clients will see them on sync)');
    return;
  }
  await Promise.all(
    deliveries.map(async ({ receipt, userIds, skip }) => {
      const targets = userIds.flatMap((id) => routes.get(id) ?? []).filter((route) => !skip?.(route));
      if (targets.length === 0) return;
      const frame: connectV1.ServerFrame = { kind: { $case: 'receipt', value: receipt } };
      try {
        await pusher.publish('receipt', receiptPushId(receipt), targets, frame);
      } catch (error) {
        logger.warn({ err: error, conversationId: receipt.conversationId }, 'receipt push failed (clients will see it on sync)');
      }
    }),
  );
}

/** Deterministic, so a repeated receipt is deduplicated like a repeated message. */
function receiptPushId(receipt: messageV1.Receipt): string {
  return `receipt:${receipt.kind}:${receipt.conversationId}:${receipt.userId}:${receipt.seq}`;
}
