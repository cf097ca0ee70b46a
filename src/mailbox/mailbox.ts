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

export interface AppendResult {
  /** the user's cursor after this push (or of the first copy, for a duplicate) */
  seq: number;
  epoch: string;
  /** the mid was seen within the dedup window: the push must not be delivered again */
  duplicate: boolean;
  /** the adapter published the push on `announce` itself, atomically with storing it */
  announced: boolean;
}

export type ReadResult =
  | { kind: 'entries'; epoch: string; entries: MailboxEntry[] }
  /** the gap cannot be filled: the epoch changed (stream lost) or the entries aged out */
  | { kind: 'resync'; epoch: string; seq: number; reason: 'epoch_changed' | 'gap_too_old' };

export interface NewEntry {
  mid: string;
  body: unknown;
  bodyJson?: string;
  ts: number;
  exp?: number;
}

export interface AppendOptions {
  /** false: live-only push: deduplicated by mid, but no seq (0) and no stored copy */
  persist: boolean;
  /**
   * a bus channel: an adapter that can (Redis) publishes the push there in the same atomic step,
   * with its seq and epoch (and `redelivery` for a duplicate), so a node dying between storing
   * and publishing cannot happen; `announced` says whether it did, else the caller publishes
   */
  announce?: string;
  /**
   * this node is subscribed to `announce` (live) and delivers to its own links itself: when it
   * is the channel's only subscriber the announcement is skipped, since it would only come back
   */
  listening?: boolean;
}

/**
 * Per-user cursor and mailbox, shared by every node.
 * Guarantees: append() gives each distinct mid of a user a seq one greater than the previous
 * (within an epoch), atomically with storing it; the same mid within the dedup window returns
 * duplicate=true and stores nothing. readAfter() returns, in seq order, every stored entry
 * after `seq` of `epoch`, or a resync when it cannot (never a silent hole).
 */
export abstract class Mailbox {
  /** `entry.bodyJson`: the body already serialised, when the caller has it */
  abstract append(bizId: string, userId: string, entry: NewEntry, opts: AppendOptions): Promise<AppendResult>;
  /**
   * At most `limit` entries after `seq`, oldest first (page on with the last seq returned).
   * `epoch` undefined: the client has no cursor yet, so everything stored is returned.
   */
  abstract readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit?: number): Promise<ReadResult>;
}
