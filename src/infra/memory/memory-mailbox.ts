import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Cursor, Mailbox, MailboxEntry, ReadResult } from '../../mailbox/mailbox';
import { LogEntry } from '../../mailbox/push-log';

export interface StoreResult {
  seq: number;
  epoch: string;
  duplicate: boolean;
}

const MAX_USERS = 20_000;

interface Box {
  epoch: string;
  seq: number;
  /** the body kept as its JSON text: one flat string per entry is cheap for the GC to trace */
  entries: (Omit<MailboxEntry, 'body'> & { json: string })[];
  expiresAt: number;
}

/** Embedded mode's mailbox: same contract as Redis's, in process memory (written through MemoryPushLog). */
export class MemoryMailbox extends Mailbox {
  /** bounded: embedded mode keeps at most MAX_USERS users' mailboxes, least recently pushed out */
  private readonly boxes = new LRUCache<string, Box>({ max: MAX_USERS });
  private readonly mids: LRUCache<string, number>;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlSec: number,
    dedupTtlSec: number,
  ) {
    super();
    this.mids = new LRUCache({ max: 50_000, ttl: dedupTtlSec * 1000 });
  }

  private box(key: string, create: boolean): Box | undefined {
    let box = this.boxes.get(key);
    if (box && box.expiresAt <= Date.now()) {
      this.boxes.delete(key);
      box = undefined;
    }
    if (!box && create) this.boxes.set(key, (box = { epoch: randomBytes(6).toString('base64url'), seq: 0, entries: [], expiresAt: 0 }));
    return box;
  }

  /** `persist` false: dedup only (seq 0, nothing stored) */
  store(bizId: string, userId: string, entry: LogEntry, opts: { persist: boolean }): StoreResult {
    const key = `${bizId}\0${userId}`;
    const midKey = `${key}\0${entry.mid}`;
    const prev = this.mids.get(midKey);
    if (!opts.persist) {
      if (prev !== undefined) return { seq: 0, epoch: '', duplicate: true };
      this.mids.set(midKey, 0);
      return { seq: 0, epoch: '', duplicate: false };
    }
    const box = this.box(key, true)!;
    if (prev !== undefined) return { seq: prev, epoch: box.epoch, duplicate: true };
    box.seq++;
    this.mids.set(midKey, box.seq);
    box.entries.push({
      mid: entry.mid,
      ts: entry.ts,
      ...(entry.exp ? { exp: entry.exp } : {}),
      json: entry.bodyJson ?? JSON.stringify(entry.body),
      seq: box.seq,
    });
    if (box.entries.length > this.maxEntries) box.entries.splice(0, box.entries.length - this.maxEntries);
    box.expiresAt = Date.now() + this.ttlSec * 1000;
    return { seq: box.seq, epoch: box.epoch, duplicate: false };
  }

  async readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit = 1000): Promise<ReadResult> {
    const box = this.box(`${bizId}\0${userId}`, false);
    if (!box) return epoch === undefined ? { kind: 'entries', epoch: '', entries: [] } : { kind: 'resync', epoch: '', seq: 0, reason: 'epoch_changed' };
    // the stream the cursor belongs to is gone: what the new epoch still holds can be replayed
    if (epoch !== undefined && epoch !== box.epoch)
      return { kind: 'resync', epoch: box.epoch, seq: (box.entries[0]?.seq ?? box.seq + 1) - 1, reason: 'epoch_changed' };
    const from = epoch === undefined ? 0 : seq;
    const entries: MailboxEntry[] = box.entries
      .filter((e) => e.seq > from)
      .slice(0, limit)
      .map(({ json, ...e }) => ({ ...e, body: JSON.parse(json) as unknown }));
    if (epoch !== undefined && seq < box.seq && entries[0]?.seq !== seq + 1) {
      // the cap dropped what came between: lost up to the first entry still stored
      return { kind: 'resync', epoch: box.epoch, seq: (entries[0]?.seq ?? box.seq + 1) - 1, reason: 'gap_too_old' };
    }
    return { kind: 'entries', epoch: box.epoch, entries };
  }

  async cursor(bizId: string, userId: string): Promise<Cursor> {
    const box = this.box(`${bizId}\0${userId}`, false);
    return box ? { epoch: box.epoch, seq: box.seq } : { seq: 0 };
  }
}
