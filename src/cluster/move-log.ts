import type { MoveReason } from './control';

/** one run of the link mover as the admin overview shows it: links this node moved, why, and when the last one went */
export interface MoveRecord {
  node: string;
  reason: MoveReason;
  count: number;
  /** epoch ms of the run's latest move */
  at: number;
}

/** how many runs the log keeps (the overview shows recent moves, not a history) */
export const MOVE_LOG_SIZE = 50;

/**
 * The moves this node made, in memory and bounded: one record per mover run that moved at least
 * one link, counted as the run goes. Only this node's own moves: each node knows what it did, and
 * the admin overview (or the balancer, asking every node) puts them side by side.
 */
export class MoveLog {
  private readonly records: MoveRecord[] = [];

  constructor(private readonly size = MOVE_LOG_SIZE) {}

  /** a run started: returns the function that counts its moves (the record appears with the first) */
  begin(node: string, reason: MoveReason): (n: number, at?: number) => void {
    let record: MoveRecord | undefined;
    return (n, at = Date.now()) => {
      if (n <= 0) return;
      if (!record) {
        record = { node, reason, count: 0, at };
        this.records.push(record);
        if (this.records.length > this.size) this.records.splice(0, this.records.length - this.size);
      }
      record.count += n;
      record.at = at;
    };
  }

  /** most recent first (by the run's latest move); copies, so a reader cannot change the log */
  recent(): MoveRecord[] {
    return this.records.map((r) => ({ ...r })).sort((a, b) => b.at - a.at);
  }
}
