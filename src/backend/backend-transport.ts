import type { Session } from '../session/session';

/** Why a call failed, as the retry and ack-code rules need it. */
export type TransportFailure =
  /** the request cannot have reached the backend (no connection, refused): safe to send elsewhere */
  | 'not_sent'
  /** the deadline passed */
  | 'deadline'
  /** the backend may have seen the request (the connection dropped mid-call) */
  | 'unavailable'
  /** an answer that is not a valid reply, or another error of the call */
  | 'failed';

export class TransportError extends Error {
  constructor(
    readonly failure: TransportFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface WireReply {
  code: number;
  /** UTF-8 JSON, or empty */
  body: Buffer;
  msg: string;
}

/**
 * Calls one backend instance by address (gRPC, gateway.v1.GatewayBackend). One channel per
 * address, opened on first use and kept. Guarantee: resolves with the backend's reply or
 * rejects with a TransportError saying whether the request could have reached it.
 */
export abstract class BackendTransport {
  abstract request(addr: string, session: Session, id: string, body: Buffer, deadline: number): Promise<WireReply>;
  abstract authorizeJoin(addr: string, session: Session, room: string, deadline: number): Promise<{ allowed: boolean; msg: string }>;
  /** closes the channel of an instance that went away */
  abstract forget(addr: string): void;
  abstract close(): void;
}
