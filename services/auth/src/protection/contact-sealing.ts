// Sealing and indexing of contacts with auth's field protection: where the
// generic FieldCipher meets the user_contacts table. Every seal is bound to
// (user_contacts, value_sealed, row id), so a value copied to another row
// does not open there.
import type { ContactKind, ContactRow, SealedContact } from '../storage/contact-store.js';
import { CONTACT_SEALED_COLUMN, CONTACT_TABLE } from '../storage/contact-store.js';
import type { FieldProtection } from './field-protection.js';

export class ContactSealing {
  constructor(private readonly protection: FieldProtection) {}

  /** The blind index of a normalised value (E.164 phone, lower-cased email). */
  index(kind: ContactKind, value: string): Buffer {
    return this.protection.blindIndex.of(kind, value);
  }

  /** A new contact row for `value`, sealed under the current key for row `id`. */
  seal(kind: ContactKind, value: string, id: string): SealedContact {
    const { cipher } = this.protection;
    return {
      id,
      kind,
      sealed: cipher.seal(value, locationOf(id)),
      keyId: cipher.currentKid,
      blindIndex: this.index(kind, value),
    };
  }

  /** The clear value of a stored row. Throws FieldDecryptionError when it was moved or altered. */
  open(row: ContactRow): string {
    return this.protection.cipher.open(row.sealed, locationOf(row.id));
  }

  /** The same value sealed again under the current key, for rotation. */
  reseal(row: ContactRow): { sealed: Buffer; keyId: string } {
    const { cipher } = this.protection;
    return { sealed: cipher.seal(this.open(row), locationOf(row.id)), keyId: cipher.currentKid };
  }
}

function locationOf(rowId: string) {
  return { table: CONTACT_TABLE, column: CONTACT_SEALED_COLUMN, rowId };
}
