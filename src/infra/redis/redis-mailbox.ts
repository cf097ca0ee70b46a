import { Cursor, Mailbox, MailboxEntry, ReadResult } from '../../mailbox/mailbox';
import { RedisConnection } from './redis.connection';

const part = (s: string) => encodeURIComponent(s);

/**
 * The Redis keys of one user's mailbox (written by RedisPushLog, read by RedisMailbox):
 *   <p>mb:<biz>:<user>      stream, entry id <seq>-1, fields mid/body/ts/exp, capped at maxEntries
 *   <p>mbseq:<biz>:<user>   the user's last seq
 *   <p>mbep:<biz>:<user>    the epoch; all three expire ttlSec after the last append, together,
 *                           so a lost stream always comes with a new epoch (-> resync)
 *   <p>mid:<biz>:<user>:<mid> dedup key -> seq of the first copy (0: live-only), dedupTtlSec
 * Stream ids are the seqs themselves, so a resume is one XRANGE from seq+1.
 */
export function mailboxKeys(prefix: string, bizId: string, userId: string) {
  const u = `${part(bizId)}:${part(userId)}`;
  return { epoch: `${prefix}mbep:${u}`, seq: `${prefix}mbseq:${u}`, stream: `${prefix}mb:${u}`, mid: (mid: string) => `${prefix}mid:${u}:${part(mid)}` };
}

/** Reads a user's mailbox on Redis (layout: mailboxKeys). */
export class RedisMailbox extends Mailbox {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit = 1000): Promise<ReadResult> {
    const k = mailboxKeys(this.redis.keyPrefix, bizId, userId);
    // one MULTI: the epoch, the last seq, the entries after the cursor and the first entry stored
    // are read at one instant, so an append landing between two reads cannot pass for an entry
    // that aged out
    const [[, current], [, lastSeq], [, rows], [, head]] = (await this.redis.command
      .multi()
      .get(k.epoch)
      .get(k.seq)
      .xrange(k.stream, `${epoch === undefined ? 0 : seq + 1}-0`, '+', 'COUNT', limit)
      .xrange(k.stream, '-', '+', 'COUNT', 1)
      .exec()) as [[null, string | null], [null, string | null], [null, [string, string[]][]], [null, [string, string[]][]]];
    const last = Number(lastSeq ?? 0);
    if (current === null) {
      // nothing stored for this user: a client with a cursor lost it, one without has nothing to get
      return epoch === undefined ? { kind: 'entries', epoch: '', entries: [] } : { kind: 'resync', epoch: '', seq: 0, reason: 'epoch_changed' };
    }
    if (epoch !== undefined && epoch !== current) {
      // the stream the cursor belongs to is gone: what the new epoch still holds can be replayed
      return { kind: 'resync', epoch: current, seq: head.length ? seqOf(head[0][0]) - 1 : last, reason: 'epoch_changed' };
    }
    const entries: MailboxEntry[] = rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
      return { seq: seqOf(id), mid: f.mid, body: JSON.parse(f.body), ts: Number(f.ts), ...(Number(f.exp) > 0 ? { exp: Number(f.exp) } : {}) };
    });
    if (epoch !== undefined && entries.length > 0 && entries[0].seq !== seq + 1) {
      // entries after `seq` must start at seq+1; otherwise the cap dropped the ones between
      return { kind: 'resync', epoch: current, seq: entries[0].seq - 1, reason: 'gap_too_old' };
    }
    // nothing after the cursor is stored although later seqs were given: they aged out
    if (epoch !== undefined && entries.length === 0 && last > seq) return { kind: 'resync', epoch: current, seq: last, reason: 'gap_too_old' };
    return { kind: 'entries', epoch: current, entries };
  }

  async cursor(bizId: string, userId: string): Promise<Cursor> {
    const k = mailboxKeys(this.redis.keyPrefix, bizId, userId);
    const [[, epoch], [, seq]] = (await this.redis.command.multi().get(k.epoch).get(k.seq).exec()) as [[null, string | null], [null, string | null]];
    return epoch === null ? { seq: 0 } : { epoch, seq: Number(seq ?? 0) };
  }
}

const seqOf = (id: string) => Number(id.split('-')[0]);
