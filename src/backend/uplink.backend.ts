import type { Session } from '../session/session';

export interface UplinkRequest {
  session: Session;
  /** the client's request id, echoed in the ack */
  id: string;
  body: unknown;
}

/** Ack codes (docs/protocol.md): 0 ok; HTTP-like otherwise. */
export const AckCode = { OK: 0, BAD_REQUEST: 400, NO_BACKEND: 404, BACKEND_ERROR: 500, UNAVAILABLE: 503, TIMEOUT: 504 } as const;

export interface UplinkReply {
  code: number;
  body?: unknown;
  msg?: string;
}

/**
 * Where client `req` frames go: the backend that owns the session's bizId.
 * Guarantee: resolves with exactly one reply per request (errors become codes, never throws
 * for backend trouble), so every req gets exactly one ack.
 */
export abstract class UplinkBackend {
  abstract readonly name: string;
  abstract request(req: UplinkRequest): Promise<UplinkReply>;
  /** for bizs listed in rooms.approvalBizIds: may this session join the room? */
  abstract authorizeJoin(session: Session, room: string): Promise<boolean>;
}
