// WebSocket frames after the handshake: what happens to bytes that are not a
// ClientFrame, to oversized messages, and to a client that floods.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authenticatedSocket, startHarness, type Harness } from './support/connect-harness.js';

describe('WebSocket frames', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_MAX_FRAME_BYTES: '1024', CONNECT_FRAME_BURST: '10', CONNECT_FRAMES_PER_SECOND: '2' });
  });
  after(() => harness.stop());

  test('bytes that are not a protobuf ClientFrame get FRAME_MALFORMED, then close 1007', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-a', 'device-a1');
    // 0xff... is an unterminated varint tag: no protobuf decoder accepts it.
    socket.ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    const error = await socket.frames.expect('error');
    assert.equal(error.code, 3);
    assert.equal(error.reason, 'FRAME_MALFORMED');
    assert.match(error.message, /not a valid protobuf ClientFrame/);
    assert.equal((await socket.closed).code, 1007);
  });

  test('a text message gets FRAME_MALFORMED, then close 1007', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-a', 'device-a2');
    socket.ws.send('{"ping": {}}');
    const error = await socket.frames.expect('error');
    assert.equal(error.code, 3);
    assert.equal(error.reason, 'FRAME_MALFORMED');
    assert.match(error.message, /binary/);
    assert.equal((await socket.closed).code, 1007);
  });

  test('a message over CONNECT_MAX_FRAME_BYTES closes the socket with 1009', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-a', 'device-a3');
    socket.ws.send(Buffer.alloc(2048, 1));
    assert.equal((await socket.closed).code, 1009);
  });

  test('a frame of a kind this server does not know gets FRAME_UNSUPPORTED and the socket stays open', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-a', 'device-a4');
    // Field 19 is reserved for call signalling: a newer client may send it.
    socket.ws.send(Buffer.from([0x9a, 0x01, 0x00]));
    const error = await socket.frames.expect('error');
    assert.equal(error.reason, 'FRAME_UNSUPPORTED');
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 7 } } });
    assert.equal((await socket.frames.expect('pong')).clientTimeMs, 7);
    socket.close();
    await socket.closed;
  });

  test('a client that floods past its frame budget gets RATE_LIMITED, then close 1008', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-b', 'device-b1');
    for (let i = 0; i < 30; i += 1) socket.send({ kind: { $case: 'ping', value: { clientTimeMs: i } } });
    let pongs = 0;
    for (;;) {
      const frame = await socket.frames.next();
      if (frame.kind?.$case === 'pong') pongs += 1;
      else {
        assert.equal(frame.kind?.$case, 'error');
        assert.equal(frame.kind.value.code, 8);
        assert.equal(frame.kind.value.reason, 'RATE_LIMITED');
        break;
      }
    }
    assert.ok(pongs >= 10 && pongs < 30, `${pongs} pongs before the limit`);
    assert.equal((await socket.closed).code, 1008);
  });
});
