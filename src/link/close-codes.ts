/**
 * Close codes the gateway uses; documented for client authors in docs/protocol.md.
 * 1xxx are RFC 6455; 4xxx are ours.
 */
export const CloseCode = {
  NORMAL: 1000,
  /** the node is draining or shutting down: reconnect (to the `redirect` url if one came) */
  GOING_AWAY: 1001,
  /** the client broke the protocol badly enough that the link cannot go on */
  PROTOCOL_ERROR: 1002,
  /** a frame larger than link.maxPayloadBytes (sent by ws itself) */
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** the token expired and no fresh one came in time: reconnect with a new token */
  TOKEN_EXPIRED: 4001,
  /** a `token` refresh frame named another user or biz, or failed verification */
  TOKEN_REJECTED: 4002,
  /** an operator kicked the link (admin API); the reason is in the close reason */
  KICKED: 4003,
  /** the link fell behind its send bound (link.sendQueueMaxBytes): reconnect and resume */
  SLOW_CONSUMER: 4008,
  /** the node moved the link to a peer to shed or rebalance load: reconnect to the `redirect` url at once, with your cursor */
  MOVED: 4010,
} as const;

/** Label for the closes metric. */
export function closeReasonLabel(code: number): string {
  switch (code) {
    case CloseCode.NORMAL:
      return 'normal';
    case CloseCode.GOING_AWAY:
      return 'going_away';
    case CloseCode.PROTOCOL_ERROR:
      return 'protocol_error';
    case CloseCode.TOO_BIG:
      return 'too_big';
    case CloseCode.INTERNAL_ERROR:
      return 'internal_error';
    case CloseCode.TOKEN_EXPIRED:
      return 'token_expired';
    case CloseCode.TOKEN_REJECTED:
      return 'token_rejected';
    case CloseCode.KICKED:
      return 'kicked';
    case CloseCode.SLOW_CONSUMER:
      return 'slow_consumer';
    case CloseCode.MOVED:
      return 'moved';
    case 1005:
    case 1006:
      return 'abnormal';
    default:
      return code >= 4000 ? 'client_4xxx' : 'other';
  }
}

/**
 * How long a closing handshake may take before ws drops the socket (its `closeTimeout`). A slow
 * consumer that reads its backlog within this time sees the 4008 close frame; one that does not
 * sees 1006.
 */
export const CLOSE_GRACE_MS = 5000;
