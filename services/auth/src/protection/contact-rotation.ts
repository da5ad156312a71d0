// Moves sealed contacts to the current field key, in batches, so old keys can
// be retired: add a new key to AUTH_FIELD_KEYS, point AUTH_FIELD_KEY_CURRENT
// at it, restart auth (new rows use it, old rows still open), run this, and
// when no row names the old kid any more, drop it from AUTH_FIELD_KEYS.
// Each row is replaced only if unchanged since it was read, so it is safe to
// run beside live traffic and to run again after an interruption.
import { FieldDecryptionError, type Logger } from '@im-mesh/platform';
import type { ContactStore } from '../storage/contact-store.js';
import type { ContactSealing } from './contact-sealing.js';

export interface RotationReport {
  resealed: number;
  /** Rows that did not open (wrong row, altered, or a key no longer configured); left as they are. */
  unreadable: string[];
  /** Rows per key id after the run. */
  byKey: Map<string, number>;
}

export async function rotateContacts(
  store: ContactStore,
  sealing: ContactSealing,
  options: { currentKeyId: string; batchSize: number; logger: Logger },
): Promise<RotationReport> {
  const unreadable = new Set<string>();
  let resealed = 0;
  for (;;) {
    // Unreadable rows stay on their old key, so ask for enough rows to get past them.
    const batch = (await store.contactsNotOnKey(options.currentKeyId, options.batchSize + unreadable.size)).filter(
      (row) => !unreadable.has(row.id),
    );
    if (batch.length === 0) break;
    for (const row of batch) {
      let next: { sealed: Buffer; keyId: string };
      try {
        next = sealing.reseal(row);
      } catch (error) {
        if (!(error instanceof FieldDecryptionError)) throw error;
        unreadable.add(row.id);
        options.logger.error({ contactId: row.id, err: error.message }, 'contact does not open; left on its old key');
        continue;
      }
      if (await store.reseal(row.id, row.sealed, next.sealed, next.keyId)) resealed += 1;
    }
    options.logger.info({ resealed, unreadable: unreadable.size }, 'contact re-encryption batch done');
  }
  return { resealed, unreadable: [...unreadable], byKey: await store.countByKey() };
}
