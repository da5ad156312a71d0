// Core's internal methods (DeliveryService, TypingService) answer connect nodes'
// service accounts only: no token is UNAUTHENTICATED, a user's access token or an
// admin's service token is PERMISSION_DENIED, and a refused call changes nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import { ClientError, createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { CoreHarness, text, toUser } from './support/core-harness.js';

describe('core internal methods and who may call them', () => {
  let h: CoreHarness;
  let channel: Channel;
  let conversationId: string;
  before(async () => {
    h = await CoreHarness.start();
    channel = createChannel(h.core.grpcAddress);
    conversationId = (await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') }))
      .conversationId;
  });
  after(async () => {
    channel.close();
    await h.close();
  });

  const codeOf = async (call: Promise<unknown>): Promise<Status> => {
    try {
      await call;
      return Status.OK;
    } catch (error) {
      if (error instanceof ClientError) return error.code;
      throw error;
    }
  };

  test('ReportDelivered and RelayTyping: no token, a user token and an admin token are refused; a service token is served', async () => {
    const callers: Array<[string, Metadata | undefined, Status]> = [
      ['no token', undefined, Status.UNAUTHENTICATED],
      ['a user access token', Metadata({ authorization: `Bearer ${h.auth.token(h.bob, 'bob-phone')}` }), Status.PERMISSION_DENIED],
      ['an admin service token', Metadata({ authorization: `Bearer ${h.auth.serviceToken('ops', 'admin')}` }), Status.PERMISSION_DENIED],
      ['a connect node service token', h.asConnectNode().metadata, Status.OK],
    ];
    for (const [who, metadata, expected] of callers) {
      const delivery = createClient(internalV1.DeliveryServiceDefinition, channel, metadata ? { '*': { metadata } } : {});
      const typing = createClient(internalV1.TypingServiceDefinition, channel, metadata ? { '*': { metadata } } : {});
      const before = await h.count('device_cursors');
      const reported = await codeOf(delivery.reportDelivered({ deliveries: [{ userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 1 }] }));
      assert.equal(Status[reported], Status[expected], `ReportDelivered with ${who}`);
      if (expected !== Status.OK) {
        assert.equal(await h.count('device_cursors'), before, `a refused report with ${who} stored nothing`);
      }
      const relayed = await codeOf(typing.relayTyping({ userId: h.alice, deviceId: 'alice-phone', conversationId, typing: true }));
      assert.equal(Status[relayed], Status[expected], `RelayTyping with ${who}`);
    }
  });
});
