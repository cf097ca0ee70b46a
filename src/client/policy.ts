import { CloseCode } from '../link/close-codes';
import { backoffDelay } from './backoff';
import type { Refusal } from './types';

/**
 * The gateway's close codes the client acts on (docs/protocol.md "Close codes"): the node's own
 * table (src/link/close-codes.ts, constants only, so it bundles for the browser), plus 1006,
 * which no peer sends (the socket went without a close frame).
 */
export const Close = { ...CloseCode, ABNORMAL: 1006 } as const;

export type Decision =
  | { action: 'stop'; why: string }
  | {
      action: 'reconnect';
      /** ms before the next attempt */
      delayMs: number;
      /** the next attempt goes there (a redirect or a refusal's peer); undefined: the configured url */
      url?: string;
      /** the cursor is unusable (a 400 on `?resume=`): resume from everything stored */
      clearCursor?: true;
    };

export interface PolicyContext {
  /** a getToken provider exists, so a token error can be cured by a fresh token */
  canRefreshToken: boolean;
  /** consecutive failed attempts so far (0 right after a link that was up) */
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
  random: () => number;
}

const backoff = (c: PolicyContext) => backoffDelay(c.attempts, c.minDelayMs, c.maxDelayMs, c.random);

/** What to do when a link (or an attempt) closed with `code`; `redirectUrl` if a `redirect` frame came on it. */
export function afterClose(code: number, redirectUrl: string | undefined, c: PolicyContext): Decision {
  // a redirect says where to go, and the close that follows (4010 or 1001) says go now
  if (redirectUrl) return { action: 'reconnect', delayMs: 0, url: redirectUrl };
  switch (code) {
    case Close.KICKED:
      return { action: 'stop', why: 'kicked by an operator (4003): not reconnecting' };
    case Close.TOKEN_EXPIRED:
    case Close.TOKEN_REJECTED:
      return c.canRefreshToken
        ? { action: 'reconnect', delayMs: c.attempts === 0 ? 0 : backoff(c) }
        : { action: 'stop', why: `token ${code === Close.TOKEN_EXPIRED ? 'expired' : 'rejected'} (${code}) and no getToken to get a new one` };
    case Close.GOING_AWAY:
    case Close.MOVED:
      // the node is going away or moving us without naming a peer: at once, then backoff
      return { action: 'reconnect', delayMs: c.attempts === 0 ? 0 : backoff(c) };
    default:
      // 1006 (gone), 1011, 4008 (slow: nothing stored is lost), 1002/1007/1008/1009 (a client bug), anything else
      return { action: 'reconnect', delayMs: backoff(c) };
  }
}

/** A peer the 503 of a shedding or draining node names in its body. */
export function peerOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const peer = (body as { peer?: unknown }).peer;
  if (typeof peer !== 'object' || peer === null) return undefined;
  const url = (peer as { url?: unknown }).url;
  return typeof url === 'string' && /^wss?:\/\//.test(url) ? url : undefined;
}

/** At most this many peers followed in a row before waiting out Retry-After. */
export const MAX_PEER_FOLLOWS = 3;

/** What to do when the node refused the upgrade with an HTTP status (only Node sees it). */
export function afterRefusal(refusal: Refusal, peerFollows: number, c: PolicyContext): Decision {
  const { status } = refusal;
  if (status === 401)
    return c.canRefreshToken
      ? { action: 'reconnect', delayMs: backoff(c) }
      : { action: 'stop', why: 'the node refused the token (401) and there is no getToken to get a new one' };
  if (status === 403 || status === 404) return { action: 'stop', why: `the node refused the upgrade with ${status}: retrying cannot help` };
  if (status === 400) return { action: 'reconnect', delayMs: backoff(c), clearCursor: true };
  if (status === 503) {
    const peer = peerOf(refusal.body);
    if (peer && peerFollows < MAX_PEER_FOLLOWS) return { action: 'reconnect', delayMs: 0, url: peer };
  }
  if (status === 429 || status === 503) {
    const wait = refusal.retryAfterMs;
    // honour Retry-After, spread by up to one floor delay so the refused clients do not return together
    if (wait !== undefined) return { action: 'reconnect', delayMs: Math.max(Math.round(wait + c.random() * c.minDelayMs), backoff(c)) };
  }
  return { action: 'reconnect', delayMs: backoff(c) };
}
