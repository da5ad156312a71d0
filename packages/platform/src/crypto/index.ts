// Field protection shared by every service that stores personal data: sealed
// columns (field-cipher.ts) and their blind indexes (blind-index.ts).
export {
  FieldCipher,
  FieldDecryptionError,
  parseFieldKeys,
  FIELD_KEY_BYTES,
  type FieldKeys,
  type FieldLocation,
} from './field-cipher.js';
export { BlindIndex, BLIND_INDEX_KEY_BYTES } from './blind-index.js';
