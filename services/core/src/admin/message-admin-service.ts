// im.admin.v1.MessageAdminService: the thin handler over SystemMessages, behind
// service tokens with the "admin" role (the table below, checked by
// authorizeCalls before the handler runs). Every send is logged with the
// service account that made it.
import type { adminV1 } from '@im-mesh/contracts';
import { AppError, type Logger, type PrincipalContext } from '@im-mesh/platform';
import type { SystemMessages } from './system-messages.js';

export const MESSAGE_ADMIN_PERMISSIONS = {
  SendSystemMessage: 'messages.send_system',
} as const;

export function messageAdminService(messages: SystemMessages, logger: Logger): adminV1.MessageAdminServiceImplementation<PrincipalContext> {
  return {
    async sendSystemMessage(request, context) {
      const { principal } = context;
      // The permission table already refused users; this names the account for idempotency and audit.
      if (principal.kind !== 'service') throw AppError.permissionDenied('Only service accounts send system messages.', 'SERVICE_TOKEN_REQUIRED');
      const target = request.target && {
        kind: request.target.$case === 'userId' ? ('user' as const) : ('group' as const),
        id: request.target.value,
      };
      const sent = await messages.send({
        clientId: principal.service.clientId,
        target,
        text: request.text,
        code: request.code,
        clientMsgId: request.clientMsgId,
      });
      logger.info(
        { action: 'send_system_message', by: principal.service.clientId, conversationId: sent.conversationId, seq: sent.seq, duplicate: sent.duplicate },
        'admin action',
      );
      return sent;
    },
  };
}
