import type { Session } from '../session/session';

export interface UplinkRequest {
  session: Session;
  /** the client's request id, echoed in the ack */
  id: string;
  body: unknown;
}

/** Ack codes (docs/protocol.md): 0 ok; HTTP-like otherwise; a backend's own code passes through. */
export const AckCode = {
  OK: 0,
  BAD_REQUEST: 400,
  NO_BACKEND: 404,
  TOO_MANY: 429,
  BACKEND_ERROR: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;

export interface UplinkReply {
  code: number;
  body?: unknown;
  msg?: string;
}

export interface JoinDecision {
  allowed: boolean;
  /** the ack code for a refusal: 403 the backend said no, 503/504 no backend could answer */
  code?: number;
  msg?: string;
}

/**
 * Where client `req` frames go: the backend that owns the session's bizId.
 * Guarantee: resolves with exactly one reply per request (errors become codes, never throws
 * for backend trouble), so every req gets exactly one ack.
 */
export abstract class UplinkBackend {
  abstract request(req: UplinkRequest): Promise<UplinkReply>;
  /** for bizs listed in rooms.approvalBizIds: may this session join the room? Never throws. */
  abstract authorizeJoin(session: Session, room: string): Promise<JoinDecision>;
}
