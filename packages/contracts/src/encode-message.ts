// Encoding with one reused writer. ts-proto's `encode(message)` starts a new
// BinaryWriter each time, whose buffer is allocated at 128 bytes and regrown by
// copying until the message fits; on the hot paths (every push, every frame,
// every response) that was about 3% of the all-in-one's CPU plus the garbage.
// Encoding is synchronous, so one writer per process serves every caller.
import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** A writer that grew past this for one large message is dropped, not kept. */
const KEEP_BUFFER_BYTES = 64 * 1024;

let shared = new BinaryWriter();

/** A generated message type: what `encodeMessage` needs of it. */
export interface MessageEncoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/**
 * `type.encode(message).finish()`, without a new writer per message. `prefix`
 * is written before the message, so a caller that frames it (gRPC's 5-byte
 * header) fills its header in place instead of copying the bytes once more.
 */
export function encodeMessage<T>(type: MessageEncoder<T>, message: T, prefix?: Uint8Array): Uint8Array {
  try {
    if (prefix) shared.raw(prefix);
    const bytes = type.encode(message, shared).finish();
    if (bytes.length > KEEP_BUFFER_BYTES) shared = new BinaryWriter();
    return bytes;
  } catch (error) {
    // A half-written message must not become the start of the next one.
    shared = new BinaryWriter();
    throw error;
  }
}
