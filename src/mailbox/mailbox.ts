/** One stored push of a user's mailbox. */
export interface MailboxEntry {
  mid: string;
  seq: number;
  body: unknown;
  /** epoch ms the push was accepted */
  ts: number;
  /** epoch ms after which it is no longer delivered (envelope ttlSec) */
  exp?: number;
}

export type ReadResult =
  | { kind: 'entries'; epoch: string; entries: MailboxEntry[] }
  /** the gap cannot be filled: the epoch changed (stream lost) or the entries aged out */
  | { kind: 'resync'; epoch: string; seq: number; reason: 'epoch_changed' | 'gap_too_old' };

/**
 * The read side of each user's mailbox, shared by every node (what PushLog stored).
 * Guarantee: readAfter() returns, in seq order, every stored entry after `seq` of `epoch`, or a
 * resync when it cannot (never a silent hole).
 */
export abstract class Mailbox {
  /**
   * At most `limit` entries after `seq`, oldest first (page on with the last seq returned).
   * `epoch` undefined: the client has no cursor yet, so everything stored is returned.
   */
  abstract readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit?: number): Promise<ReadResult>;
}
