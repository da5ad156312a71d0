// The calls that obtain a token (password and SMS login, registration, refresh,
// the login key) must pass the edge without one; every other AuthService method
// needs one. Each is called with an empty request: the upstream double answers
// UNIMPLEMENTED for what it does not play, which proves the call got through.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createChannel, Status, type Channel } from 'nice-grpc';
import { Client as GrpcClient, credentials, Metadata as GrpcMetadata, type ServiceError } from '@grpc/grpc-js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const OPEN = ['GetLoginKey', 'Register', 'Login', 'RefreshToken', 'SendSmsCode', 'RegisterWithSmsCode', 'LoginWithSmsCode', 'ResetPasswordWithSmsCode'];

describe('AuthService methods at the edge without an access token', () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;
  let channel: Channel;
  let raw: GrpcClient;
  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), createTestTokenIssuer());
    edge = await startTestEdge(upstreams.addresses);
    channel = createChannel(edge.address);
    raw = new GrpcClient(edge.address, credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    channel.close();
    await edge.stop();
    await upstreams.stop();
  });

  /** The status of calling `method` with an empty request and no authorization header. */
  function statusOf(method: string): Promise<Status> {
    return new Promise((resolve) => {
      raw.makeUnaryRequest(
        `/im.auth.v1.AuthService/${method}`,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        Buffer.alloc(0),
        new GrpcMetadata(),
        (error: ServiceError | null) => resolve((error?.code ?? Status.OK) as Status),
      );
    });
  }

  test('the calls that obtain a token get through; the others are UNAUTHENTICATED at the edge', async () => {
    const all: string[] = Object.values(authV1.AuthServiceDefinition.methods).map((method) => method.name);
    for (const name of OPEN) assert.ok(all.includes(name), `AuthService has no ${name}`);
    for (const method of all) {
      const status = await statusOf(method);
      if (OPEN.includes(method)) assert.notEqual(status, Status.UNAUTHENTICATED, `${method} needs no token`);
      else assert.equal(status, Status.UNAUTHENTICATED, `${method} needs a token`);
    }
  });
});
