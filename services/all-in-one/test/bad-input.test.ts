// Bad input through the edge: each case gets the right gRPC status and a message a
// person can read, and nothing is stored.
import assert from 'node:assert/strict';
import { constants, createPrivateKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import jwt from 'jsonwebtoken';
import { ClientError, Metadata, Status } from 'nice-grpc';
import WebSocket from 'ws';
import { authV1, connectV1, messageV1 } from '@im-mesh/contracts';
import { createServiceClient, openChannel, type ServiceChannel } from '@im-mesh/platform';
import { SecretSealer } from '../../auth/src/keys/secret-sealer.js';
import { newUser, startTestMesh, type TestMesh, type TestUser } from './support/mesh-harness.js';

/** The key-encryption key auth seals its private keys with, known here so the test can forge with the real signing key. */
const KEY_ENCRYPTION_KEY = randomBytes(32);

async function grpcError(call: Promise<unknown>): Promise<ClientError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ClientError) return error;
    throw error;
  }
  assert.fail('the call succeeded but should have failed');
}

/** A readable sentence: no stack trace, no driver error, not empty. */
function assertReadable(error: ClientError): void {
  assert.ok(error.details.length > 10, `message too short: "${error.details}"`);
  assert.doesNotMatch(error.details, /\bat \w+ \(|Error:|SQL|syntax|undefined|null/);
}

describe('bad input through the edge', () => {
  let mesh: TestMesh;
  let channel: ServiceChannel;
  let messages: ReturnType<typeof createServiceClient<typeof messageV1.MessageServiceDefinition>>;
  let auth: ReturnType<typeof createServiceClient<typeof authV1.AuthServiceDefinition>>;
  let alice: TestUser;
  let bob: TestUser;
  let aliceToken: string;

  const counts = async () => {
    const result = await mesh.db.query(
      `SELECT (SELECT count(*) FROM core.messages)::int AS messages, (SELECT count(*) FROM core.outbox)::int AS outbox,
              (SELECT count(*) FROM core.conversations)::int AS conversations`,
    );
    return result.rows[0] as { messages: number; outbox: number; conversations: number };
  };
  const asAlice = () => ({ metadata: Metadata({ authorization: `Bearer ${aliceToken}` }) });

  before(async () => {
    mesh = await startTestMesh('badinput', { AUTH_KEY_ENCRYPTION_KEYS: KEY_ENCRYPTION_KEY.toString('base64') });
    channel = openChannel(new URL(mesh.url).host);
    messages = createServiceClient(messageV1.MessageServiceDefinition, channel.channel);
    auth = createServiceClient(authV1.AuthServiceDefinition, channel.channel);
    alice = await newUser(mesh.url, 'alice');
    bob = await newUser(mesh.url, 'bob');
    aliceToken = await alice.auth.getAccessToken();
    await messages.sendMessage(
      { target: { $case: 'toUserId', value: bob.userId }, clientMsgId: 'seed', content: text('hello') },
      asAlice(),
    );
    // Let the relay publish the seed message, so the outbox count is steady.
    const deadline = Date.now() + 20_000;
    while ((await counts()).outbox !== 0) {
      if (Date.now() > deadline) assert.fail('the outbox never drained');
      await sleep(20);
    }
  });
  after(async () => {
    channel?.close();
    await mesh?.stop();
  });

  const text = (value: string): messageV1.MessageContent => ({ body: { $case: 'text', value: { text: value, mentionUserIds: [] } } });

  const rejected: Array<[string, () => messageV1.SendMessageRequest, Status, RegExp]> = [
    ['empty text', () => ({ target: { $case: 'toUserId', value: bob.userId }, clientMsgId: 'e1', content: text('') }), Status.INVALID_ARGUMENT, /text/i],
    ['whitespace-only text', () => ({ target: { $case: 'toUserId', value: bob.userId }, clientMsgId: 'e2', content: text('  \n ') }), Status.INVALID_ARGUMENT, /text/i],
    ['a message to oneself', () => ({ target: { $case: 'toUserId', value: alice.userId }, clientMsgId: 'e3', content: text('me') }), Status.INVALID_ARGUMENT, /yourself/i],
    ['a message to a user who does not exist', () => ({ target: { $case: 'toUserId', value: '01900000-0000-7000-8000-000000000000' }, clientMsgId: 'e4', content: text('hi') }), Status.NOT_FOUND, /user/i],
    ['an unknown conversation', () => ({ target: { $case: 'conversationId', value: 'dm:nope:nope' }, clientMsgId: 'e5', content: text('hi') }), Status.NOT_FOUND, /conversation/i],
    ['no content', () => ({ target: { $case: 'toUserId', value: bob.userId }, clientMsgId: 'e6', content: undefined }), Status.INVALID_ARGUMENT, /content/i],
    ['no client message id', () => ({ target: { $case: 'toUserId', value: bob.userId }, clientMsgId: '', content: text('hi') }), Status.INVALID_ARGUMENT, /client_msg_id/i],
  ];
  for (const [name, request, status, wording] of rejected) {
    test(`${name} is ${Status[status]} with a readable message, and nothing is stored`, async () => {
      const before = await counts();
      const error = await grpcError(messages.sendMessage(request(), asAlice()));
      assert.equal(error.code, status, error.details);
      assert.match(error.details, wording);
      assertReadable(error);
      assert.deepEqual(await counts(), before);
    });
  }

  test('expired, forged and alg-none tokens are UNAUTHENTICATED, and nothing is stored', async () => {
    // The real signing key, read from auth's table and opened with the test's KEK, for a correctly signed but expired token.
    const key = await mesh.db.query(`SELECT kid, private_key_sealed FROM auth.keys WHERE purpose = 'signing' AND retired_at IS NULL`);
    const { kid, private_key_sealed } = key.rows[0] as { kid: string; private_key_sealed: Buffer };
    const private_key_pem = new SecretSealer([KEY_ENCRYPTION_KEY]).unseal(private_key_sealed, `auth.keys:signing:${kid}`).toString('utf8');
    const claims = { sub: alice.userId, sid: 'x', did: 'alice-device', iss: 'im-mesh', aud: 'im-mesh' };
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, createPrivateKey(private_key_pem), {
      algorithm: 'RS256',
      keyid: kid,
      header: { alg: 'RS256', typ: 'at+jwt', kid },
    });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }, stranger, {
      algorithm: 'RS256',
      header: { alg: 'RS256', typ: 'at+jwt', kid },
    });
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    const before = await counts();
    for (const [name, token] of [['expired', expired], ['forged', forged], ['alg none', none]] as const) {
      const error = await grpcError(
        messages.sendMessage(
          { target: { $case: 'toUserId', value: bob.userId }, clientMsgId: `t-${name}`, content: text('hi') },
          { metadata: Metadata({ authorization: `Bearer ${token}` }) },
        ),
      );
      assert.equal(error.code, Status.UNAUTHENTICATED, `${name}: ${error.details}`);
      assertReadable(error);
    }
    assert.deepEqual(await counts(), before);
  });

  test('a replayed login ciphertext is refused with the same answer as a wrong password', async () => {
    const deviceId = 'replay-device';
    const key = await auth.getLoginKey({ deviceId });
    const ciphertext = publicEncrypt(
      { key: key.publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(JSON.stringify({ password: alice.password, nonce: key.nonce, ts: Date.now() })),
    );
    const request = { username: alice.username, password: { kid: key.kid, ciphertext }, deviceId, devicePlatform: 'test' };
    const first = await auth.login(request);
    assert.ok(first.tokens?.accessToken, 'the first use logs in');
    const replay = await grpcError(auth.login(request));
    assert.equal(replay.code, Status.UNAUTHENTICATED);

    const fresh = await auth.getLoginKey({ deviceId });
    const wrong = await grpcError(
      auth.login({
        ...request,
        password: {
          kid: fresh.kid,
          ciphertext: publicEncrypt(
            { key: fresh.publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            Buffer.from(JSON.stringify({ password: 'not-the-password', nonce: fresh.nonce, ts: Date.now() })),
          ),
        },
      }),
    );
    assert.equal(wrong.code, replay.code);
    assert.equal(wrong.details, replay.details, 'no hint which check failed');
  });

  const wsUrl = () => `${mesh.url.replace(/^http/, 'ws')}/ws`;
  const openSocket = (token: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(wsUrl(), ['im.v1', `im.auth.${token}`]);
      socket.binaryType = 'nodebuffer';
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const closed = (socket: WebSocket) =>
    new Promise<{ code: number; frames: connectV1.ServerFrame[] }>((resolve) => {
      const frames: connectV1.ServerFrame[] = [];
      socket.on('message', (data: Buffer) => frames.push(connectV1.ServerFrame.decode(data)));
      socket.once('close', (code) => resolve({ code, frames }));
    });

  test('a malformed protobuf frame on the WebSocket gets an INVALID_ARGUMENT error frame and close 1007', async () => {
    const socket = await openSocket(aliceToken);
    const outcome = closed(socket);
    socket.send(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const { code, frames } = await outcome;
    assert.equal(code, 1007);
    const error = frames.find((f) => f.kind?.$case === 'error');
    assert.ok(error && error.kind?.$case === 'error', `frames: ${JSON.stringify(frames.map((f) => f.kind?.$case))}`);
    assert.equal(error.kind.value.code, Status.INVALID_ARGUMENT);
    assert.ok(error.kind.value.message.length > 10);
  });

  test('an oversized WebSocket frame closes the connection with 1009', async () => {
    const socket = await openSocket(aliceToken);
    const outcome = closed(socket);
    socket.send(Buffer.alloc(65 * 1024 + 1, 1));
    assert.equal((await outcome).code, 1009);
  });

  test('a WebSocket with a forged token is refused before the upgrade', async () => {
    const forged = `${aliceToken.slice(0, -4)}AAAA`;
    await assert.rejects(openSocket(forged), /401/);
  });
});
