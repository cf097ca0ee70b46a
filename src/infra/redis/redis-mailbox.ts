import { randomBytes } from 'node:crypto';
import { AppendOptions, AppendResult, Mailbox, MailboxEntry, ReadResult } from '../../mailbox/mailbox';
import { RedisConnection } from './redis.connection';
import { busPayloadHead } from './redis-cluster.bus';

const part = (s: string) => encodeURIComponent(s);

// KEYS: epoch, seq, stream, dedup
// ARGV: newEpoch, mid, body, ts, maxLen, ttlSec, dedupTtlSec, persist, exp, announceChannel, announceHead
// One round trip, atomic: dedup by mid, epoch (created if the old one expired with the stream),
// next seq, append with a cap, and refresh every TTL. Returns {seq, epoch, duplicate}.
const APPEND = `
if ARGV[8] ~= '1' then
  if redis.call('SET', KEYS[4], 0, 'NX', 'EX', tonumber(ARGV[7])) then return {0, '', 0} end
  return {0, '', 1}
end
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local prev = redis.call('GET', KEYS[4])
if prev then
  if ARGV[10] ~= '' and tonumber(prev) > 0 then
    redis.call('PUBLISH', ARGV[10], ARGV[11] .. ',"seq":' .. prev .. ',"epoch":"' .. epoch .. '","redelivery":true}')
  end
  return {tonumber(prev), epoch, 1}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[4], seq, 'EX', tonumber(ARGV[7]))
redis.call('XADD', KEYS[3], 'MAXLEN', '=', tonumber(ARGV[5]), seq .. '-1', 'mid', ARGV[2], 'body', ARGV[3], 'ts', ARGV[4], 'exp', ARGV[9])
local ttl = tonumber(ARGV[6])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
if ARGV[10] ~= '' then
  redis.call('PUBLISH', ARGV[10], ARGV[11] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}')
end
return {seq, epoch, 0}
`;

/**
 * Mailbox on Redis:
 *   <p>mb:<biz>:<user>      stream, entry id <seq>-1, fields mid/body/ts, capped at maxEntries
 *   <p>mbseq:<biz>:<user>   the user's last seq
 *   <p>mbep:<biz>:<user>    the epoch; all three expire ttlSec after the last append, together,
 *                           so a lost stream always comes with a new epoch (-> resync)
 *   <p>mid:<biz>:<user>:<mid> dedup key -> seq of the first copy, dedupTtlSec
 * Stream ids are the seqs themselves, so a resume is one XRANGE from seq+1.
 */
export class RedisMailbox extends Mailbox {
  constructor(
    private readonly redis: RedisConnection,
    private readonly maxEntries: number,
    private readonly ttlSec: number,
    private readonly dedupTtlSec: number,
    /** this node's id: announced pushes carry it as the bus sender (see RedisClusterBus) */
    private readonly nodeId: string,
  ) {
    super();
    redis.command.defineCommand('gwMailboxAppend', { numberOfKeys: 4, lua: APPEND });
  }

  private epochSeed = randomBytes(6).toString('base64url');
  private epochCount = 0;

  /**
   * A fresh epoch candidate for every append (used only when the user has none): unique per
   * process and call without a random read per push.
   */
  private nextEpoch(): string {
    if (++this.epochCount > 1e9) {
      this.epochSeed = randomBytes(6).toString('base64url');
      this.epochCount = 0;
    }
    return `${this.epochSeed}${this.epochCount.toString(36)}`;
  }

  private keys(bizId: string, userId: string) {
    const u = `${part(bizId)}:${part(userId)}`;
    const p = this.redis.keyPrefix;
    return { epoch: `${p}mbep:${u}`, seq: `${p}mbseq:${u}`, stream: `${p}mb:${u}`, mid: (mid: string) => `${p}mid:${u}:${part(mid)}` };
  }

  async append(bizId: string, userId: string, entry: { mid: string; body: unknown; ts: number; exp?: number }, opts: AppendOptions): Promise<AppendResult> {
    const k = this.keys(bizId, userId);
    const body = JSON.stringify(entry.body);
    const announce = opts.persist && opts.announce !== undefined;
    // the bus message without its closing brace: the script appends seq and epoch
    const head = announce ? busPayloadHead(this.nodeId, { k: 'push', mid: entry.mid, ts: entry.ts, ...(entry.exp ? { exp: entry.exp } : {}) }, body) : '';
    const cmd = (this.redis.command as unknown as { gwMailboxAppend(...args: (string | number)[]): Promise<[number, string, number]> }).gwMailboxAppend;
    const [seq, epoch, dup] = await cmd.call(
      this.redis.command,
      k.epoch,
      k.seq,
      k.stream,
      k.mid(entry.mid),
      this.nextEpoch(),
      entry.mid,
      body,
      entry.ts,
      this.maxEntries,
      this.ttlSec,
      this.dedupTtlSec,
      opts.persist ? '1' : '0',
      entry.exp ?? 0,
      announce ? this.redis.keyPrefix + opts.announce : '',
      head,
    );
    return { seq: Number(seq), epoch: String(epoch), duplicate: dup === 1, announced: announce && Number(seq) > 0 };
  }

  async readAfter(bizId: string, userId: string, epoch: string | undefined, seq: number, limit = 1000): Promise<ReadResult> {
    const k = this.keys(bizId, userId);
    const [[, current], [, lastSeq], [, rows]] = (await this.redis.command
      .multi()
      .get(k.epoch)
      .get(k.seq)
      .xrange(k.stream, `${epoch === undefined ? 0 : seq + 1}-0`, '+', 'COUNT', limit)
      .exec()) as [[null, string | null], [null, string | null], [null, [string, string[]][]]];
    const last = Number(lastSeq ?? 0);
    if (current === null) {
      // nothing stored for this user: a client with a cursor lost it, one without has nothing to get
      return epoch === undefined ? { kind: 'entries', epoch: '', entries: [] } : { kind: 'resync', epoch: '', seq: 0, reason: 'epoch_changed' };
    }
    if (epoch !== undefined && epoch !== current) return { kind: 'resync', epoch: current, seq: last, reason: 'epoch_changed' };
    const entries: MailboxEntry[] = rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
      return { seq: Number(id.split('-')[0]), mid: f.mid, body: JSON.parse(f.body), ts: Number(f.ts), ...(Number(f.exp) > 0 ? { exp: Number(f.exp) } : {}) };
    });
    if (epoch !== undefined && seq < last) {
      // entries after `seq` must start at seq+1; otherwise the cap or a live-only push left a hole
      const first = entries[0]?.seq;
      if (first !== seq + 1) return { kind: 'resync', epoch: current, seq: last, reason: 'gap_too_old' };
    }
    return { kind: 'entries', epoch: current, entries };
  }
}
