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
  /**
   * the gap cannot be filled whole: the epoch changed (the stream was lost) or entries aged
   * out. Everything after the reader's cursor up to (epoch, seq) is lost; what is stored after
   * `seq` of `epoch` can still be read (epoch '' and seq 0: nothing is stored at all).
   */
  | { kind: 'resync'; epoch: string; seq: number; reason: 'epoch_changed' | 'gap_too_old' };

/** Where a user's mailbox stands: its epoch (undefined when nothing is stored) and last seq. */
export interface Cursor {
  epoch?: string;
  seq: number;
}

/**
 * The read side of each user's mailbox, shared by every node (what PushLog stored).
 * Guarantee: readAfter() returns, in seq order, every stored entry after `seq` of `epoch`, or a
 * resync naming exactly what is lost when it cannot (never a silent hole).
 */
export abstract class Mailbox {
  /**
   * At most `limit` entries after `seq`, oldest first (page on with the last seq returned).
   * `epoch` undefined: the client has no cursor yet, so everything stored is returned.
   */
  abstract readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit?: number): Promise<ReadResult>;
  /** the user's cursor now: every push appended later has a greater seq in this epoch, or a new epoch */
  abstract cursor(bizId: string, userId: string): Promise<Cursor>;
}
