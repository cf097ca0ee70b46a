/** One record as the source delivers it, technology aside. */
export interface RawRecord {
  key?: string;
  value: Buffer | null;
  headers: Record<string, string>;
  /** stable identity of the record (topic-partition-offset): the mid when the envelope has none */
  ref: string;
}

export interface DeadLetter {
  record: RawRecord;
  reason: 'too_large' | 'malformed' | 'invalid' | 'unknown_biz';
  detail: string;
}

/** Handles one batch; resolves once every target of every good record is delivered or stored. */
export type BatchHandler = (records: RawRecord[]) => Promise<DeadLetter[]>;

/**
 * Where pushes come from besides the admin API (Kafka gateway.push, one consumer group for
 * all nodes). Guarantee: a batch's offsets are committed only after the handler resolved and
 * its dead letters were written; a batch whose handler throws is delivered again (to this or
 * another node), so handling must be idempotent (it is: dedup by mid).
 */
export abstract class PushSource {
  abstract start(handler: BatchHandler): Promise<void>;
  abstract stop(): Promise<void>;
}

/** Embedded mode, or push.consume=false: no external source. */
export class NoPushSource extends PushSource {
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
