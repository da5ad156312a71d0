// The history of a fault test: every send with its outcome and every message
// each device showed, with times, so history-checker.ts can judge the run
// afterwards (lost, duplicated, reordered, unexpected, latency, recovery).
//
// Outcomes: 'ok' (the server answered with message id and seq: the send is
// durable and must reach every recipient device), 'failed' (the server refused
// it with a definite code: it must never show up), 'unknown' (deadline,
// connection loss, an upstream gone: it may or may not have been stored; if it
// shows up it counts as recovered). A send is one logical message, keyed by
// sender and client_msg_id; retries with the same key are attempts of it.
import { randomUUID } from 'node:crypto';
import type { messageV1 } from '@im-mesh/contracts';
import type { ImClient } from '@im-mesh/sdk';
import { ClientError, Status } from 'nice-grpc-common';

/** A device whose messages are recorded. */
export interface TrackedDevice {
  readonly name: string;
  readonly userId: string;
  readonly client: ImClient;
}

export type SendOutcome =
  | { kind: 'pending' }
  | { kind: 'ok'; messageId: string; conversationId: string; seq: number; sentAtMs: number | undefined; duplicate: boolean; answeredAt: number }
  | { kind: 'failed'; code: string; detail: string; answeredAt: number }
  | { kind: 'unknown'; reason: string; answeredAt: number };

export interface SendAttempt {
  outcome: SendOutcome;
  startedAt: number;
}

export interface SendRecord {
  /** `${senderUserId}/${clientMsgId}`: one logical message. */
  readonly key: string;
  readonly clientMsgId: string;
  readonly text: string;
  readonly senderDevice: string;
  readonly senderUserId: string;
  readonly recipientUserId: string;
  /** When the first attempt began, in ms since the history started. */
  readonly startedAt: number;
  readonly attempts: SendAttempt[];
}

export interface ShownMessage {
  readonly device: string;
  readonly messageId: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly clientMsgId: string;
  readonly shownAt: number;
}

/** gRPC codes after which the server may or may not have stored the message. */
const OUTCOME_UNKNOWN = new Set<Status>([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.CANCELLED, Status.UNKNOWN, Status.INTERNAL, Status.ABORTED]);

/** Classifies a rejected send: a definite refusal, or an outcome nobody knows. */
export function outcomeOfError(error: unknown, at: number): SendOutcome {
  if (error instanceof ClientError && !OUTCOME_UNKNOWN.has(error.code)) {
    return { kind: 'failed', code: Status[error.code] ?? String(error.code), detail: error.details, answeredAt: at };
  }
  const reason = error instanceof ClientError ? `${Status[error.code]}: ${error.details}` : error instanceof Error ? error.message : String(error);
  return { kind: 'unknown', reason, answeredAt: at };
}

export class History {
  private readonly origin = performance.now();
  readonly sends = new Map<string, SendRecord>();
  readonly shown: ShownMessage[] = [];
  readonly devices = new Map<string, { name: string; userId: string }>();
  /** Named moments ("fault", "healed"), in ms since the history started. */
  readonly marks = new Map<string, number>();
  private inFlight = 0;
  private userIndex: { size: number; byUser: Map<string, string[]> } | undefined;

  constructor(readonly label: string) {}

  /** Milliseconds since this history started. */
  now(): number {
    return performance.now() - this.origin;
  }

  mark(name: string): void {
    this.marks.set(name, this.now());
  }

  /** Starts recording what `device` shows. Call before it connects. */
  track(device: TrackedDevice): void {
    this.devices.set(device.name, { name: device.name, userId: device.userId });
    device.client.onMessage((message) => this.recordShown(device.name, message));
  }

  recordShown(device: string, message: messageV1.Message): void {
    this.shown.push({
      device,
      messageId: message.messageId,
      conversationId: message.conversationId,
      seq: message.seq,
      senderId: message.senderId,
      clientMsgId: message.clientMsgId,
      shownAt: this.now(),
    });
  }

  /** Sends one text from `device` to `toUserId` (a new logical message unless `clientMsgId` is reused). */
  async send(device: TrackedDevice, toUserId: string, options: { clientMsgId?: string; text?: string } = {}): Promise<SendRecord> {
    const clientMsgId = options.clientMsgId ?? randomUUID();
    const key = `${device.userId}/${clientMsgId}`;
    let record = this.sends.get(key);
    if (record === undefined) {
      record = {
        key,
        clientMsgId,
        text: options.text ?? `${this.label} ${device.name} #${this.sends.size}`,
        senderDevice: device.name,
        senderUserId: device.userId,
        recipientUserId: toUserId,
        startedAt: this.now(),
        attempts: [],
      };
      this.sends.set(key, record);
    }
    const attempt: SendAttempt = { outcome: { kind: 'pending' }, startedAt: this.now() };
    record.attempts.push(attempt);
    this.inFlight += 1;
    try {
      const response = await device.client.sendText({ toUserId }, record.text, { clientMsgId });
      attempt.outcome = {
        kind: 'ok',
        messageId: response.messageId,
        conversationId: response.conversationId,
        seq: response.seq,
        sentAtMs: response.sentAt?.getTime(),
        duplicate: response.duplicate,
        answeredAt: this.now(),
      };
    } catch (error) {
      attempt.outcome = outcomeOfError(error, this.now());
    } finally {
      this.inFlight -= 1;
    }
    return record;
  }

  /** Sends in flight right now. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Sends every logical message whose outcome is still unknown once more with the
   * same client_msg_id from the same device (what an app does after a reconnect):
   * the server answers with the original if it had stored it. Returns how many
   * were retried.
   */
  async retryUnknown(devices: ReadonlyMap<string, TrackedDevice>): Promise<number> {
    const unknown = [...this.sends.values()].filter((record) => finalOutcome(record).kind === 'unknown');
    await Promise.all(
      unknown.map((record) => {
        const device = devices.get(record.senderDevice);
        if (device === undefined) throw new Error(`no device named ${record.senderDevice}`);
        return this.send(device, record.recipientUserId, { clientMsgId: record.clientMsgId });
      }),
    );
    return unknown.length;
  }

  /** Devices that must show `record` once it is acked: every device of both users but the sending one. */
  recipientDevices(record: SendRecord): string[] {
    const byUser = this.devicesByUser();
    const users = record.recipientUserId === record.senderUserId ? [record.senderUserId] : [record.recipientUserId, record.senderUserId];
    return users.flatMap((userId) => byUser.get(userId) ?? []).filter((name) => name !== record.senderDevice);
  }

  /** Device names per user, rebuilt when devices were added (a crowd has thousands). */
  private devicesByUser(): Map<string, string[]> {
    if (this.userIndex?.size !== this.devices.size) {
      const byUser = new Map<string, string[]>();
      for (const device of this.devices.values()) byUser.set(device.userId, [...(byUser.get(device.userId) ?? []), device.name]);
      this.userIndex = { size: this.devices.size, byUser };
    }
    return this.userIndex.byUser;
  }

  /** True when every acked send is shown on every recipient device. */
  converged(): boolean {
    const seen = new Set(this.shown.map((shown) => `${shown.device}|${shown.messageId}`));
    for (const record of this.sends.values()) {
      const outcome = finalOutcome(record);
      if (outcome.kind !== 'ok') continue;
      for (const device of this.recipientDevices(record)) if (!seen.has(`${device}|${outcome.messageId}`)) return false;
    }
    return true;
  }

  /** Waits until converged() (true) or `timeoutMs` passed (false). */
  async waitForConvergence(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.converged()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  }
}

/**
 * What is known of a logical message: 'ok' if any attempt was answered (the
 * first answer; history-checker.ts flags attempts that disagree), 'failed' only
 * if every attempt was refused, else 'unknown' (or 'pending' while one runs).
 */
export function finalOutcome(record: SendRecord): SendOutcome {
  const outcomes = record.attempts.map((attempt) => attempt.outcome);
  const ok = outcomes.find((outcome) => outcome.kind === 'ok');
  if (ok) return ok;
  if (outcomes.some((outcome) => outcome.kind === 'pending')) return { kind: 'pending' };
  const unknown = outcomes.find((outcome) => outcome.kind === 'unknown');
  return unknown ?? outcomes[0] ?? { kind: 'pending' };
}
