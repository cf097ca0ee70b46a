/** A push to store for one user. */
export interface LogEntry {
  mid: string;
  body: unknown;
  /** the body already serialised, when the caller has it (it is stored and announced as is) */
  bodyJson?: string;
  /** epoch ms accepted */
  ts: number;
  /** epoch ms after which it is no longer delivered */
  exp?: number;
}

export interface LogResult {
  /** the user's cursor after this push (or of the first copy, for a duplicate) */
  seq: number;
  epoch: string;
  /** the mid was seen within the dedup window: the push must not be delivered again */
  duplicate: boolean;
  /** the step published the push on the bus (false when no other node can be listening) */
  published: boolean;
}

/**
 * The send side's one write per user push: "store it and announce it".
 * Guarantees: append() gives each distinct mid of a user a seq one greater than the previous
 * (within an epoch), stores it in the user's mailbox and announces it, with that seq and epoch,
 * on the user's bus channel to every other node listening there, in one atomic step, so no node
 * can die between storing a push and announcing it. A mid seen within the dedup window stores
 * nothing: it is announced again as a redelivery under its stored seq. Appends of one user
 * take effect in call order. `listening`: this node holds links of the user and is subscribed
 * to the channel; the announcement is then skipped when no other node is, since it would only
 * come back to this node (which delivers to its own links itself).
 * claim() is the dedup alone, for live-only pushes (not stored, no seq): true the first time a
 * mid is seen in `scope` within the window.
 */
export abstract class PushLog {
  abstract append(bizId: string, userId: string, entry: LogEntry, opts: { listening: boolean }): Promise<LogResult>;
  abstract claim(bizId: string, scope: string, mid: string): Promise<boolean>;
}
