// The grpc-web wire details in isolation: base64 bodies made of several padded
// chunks, and the trailer frame layout.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBase64Chunks, trailerFrame } from '../src/grpc-web/grpc-web-frames.js';

describe('grpc-web frames', () => {
  test('a text body of several padded base64 chunks decodes to the bytes of all chunks', () => {
    const parts = [Buffer.from([0, 0, 0, 0, 2]), Buffer.from('hi'), Buffer.from('a longer third chunk')];
    const body = parts.map((part) => part.toString('base64')).join('');
    assert.deepEqual(decodeBase64Chunks(body), Buffer.concat(parts));
  });

  test('line breaks inside the base64 are ignored; other characters or a broken group are rejected', () => {
    assert.deepEqual(decodeBase64Chunks('aGVs\r\nbG8='), Buffer.from('hello'));
    assert.equal(decodeBase64Chunks('aGVsbG8*'), undefined);
    assert.equal(decodeBase64Chunks('aGVsbG8=aGV'), undefined);
    assert.equal(decodeBase64Chunks('aG=sbG8='), undefined);
  });

  test('the trailer frame is flag 0x80, a big-endian length and "key: value" lines', () => {
    const frame = trailerFrame({ 'grpc-status': '16', 'grpc-message': 'Log in again', ':status': '200', 'x-multi': ['a', 'b'] });
    assert.equal(frame[0], 0x80);
    const text = 'grpc-status: 16\r\ngrpc-message: Log in again\r\nx-multi: a, b\r\n';
    assert.equal(frame.readUInt32BE(1), Buffer.byteLength(text));
    assert.equal(frame.subarray(5).toString('utf8'), text);
  });
});
