import { randomBytes } from 'node:crypto';
import { AppendOptions, AppendResult, Mailbox, MailboxEntry, NewEntry, ReadResult } from '../../mailbox/mailbox';
import { RedisConnection } from './redis.connection';
import { busPayloadHead } from './redis-cluster.bus';

const part = (s: string) => encodeURIComponent(s);

// KEYS: per item, epoch, seq, stream, dedup (4 each)
// ARGV: newEpoch, maxLen, ttlSec, dedupTtlSec, then per item (8 each):
//       mid, body, ts, persist, exp, announceChannel, announceHead, listening
//       (announceHead: the bus payload up to the body, which the script appends from `body`)
// One round trip for a whole batch of appends, each atomic and in the order given: dedup by
// mid, epoch (created if the old one expired with the stream), next seq, append with a cap,
// refresh every TTL, announce. Returns {seq, epoch, duplicate} per item, flattened.
// The announcement is skipped when the appending node listens on the channel and is its only
// subscriber: it delivers to its own links itself, so the message would only come back to it.
const APPEND_MANY = `
local newEpoch = ARGV[1]
local maxLen = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local dedupTtl = tonumber(ARGV[4])
local function announce(chan, listening, payload)
  if chan == '' then return end
  if listening == '1' and redis.call('PUBSUB', 'NUMSUB', chan)[2] == 1 then return end
  redis.call('PUBLISH', chan, payload)
end
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k = i * 4
  local a = 4 + i * 8
  local kMid = KEYS[k + 4]
  local mid, body, persist, chan, head, listening = ARGV[a + 1], ARGV[a + 2], ARGV[a + 4], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  if persist ~= '1' then
    local fresh = redis.call('SET', kMid, 0, 'NX', 'EX', dedupTtl)
    out[#out + 1] = 0
    out[#out + 1] = ''
    out[#out + 1] = fresh and 0 or 1
  else
    local kEpoch, kSeq, kStream = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
    local epoch = redis.call('GET', kEpoch)
    if not epoch then
      epoch = newEpoch
      redis.call('SET', kEpoch, epoch)
      redis.call('DEL', kSeq, kStream)
    end
    local prev = redis.call('GET', kMid)
    if prev then
      if tonumber(prev) > 0 then
        announce(chan, listening, head .. body .. ',"seq":' .. prev .. ',"epoch":"' .. epoch .. '","redelivery":true}')
      end
      out[#out + 1] = tonumber(prev)
      out[#out + 1] = epoch
      out[#out + 1] = 1
    else
      local seq = redis.call('INCR', kSeq)
      redis.call('SET', kMid, seq, 'EX', dedupTtl)
      redis.call('XADD', kStream, 'MAXLEN', '=', maxLen, seq .. '-1', 'mid', mid, 'body', body, 'ts', ARGV[a + 3], 'exp', ARGV[a + 5])
      redis.call('EXPIRE', kEpoch, ttl)
      redis.call('EXPIRE', kSeq, ttl)
      redis.call('EXPIRE', kStream, ttl)
      announce(chan, listening, head .. body .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}')
      out[#out + 1] = seq
      out[#out + 1] = epoch
      out[#out + 1] = 0
    end
  end
end
return out
`;

/** appends per script call: bounds how long one call keeps Redis busy (~1 ms) */
const MAX_BATCH = 64;

interface PendingAppend {
  keys: [string, string, string, string];
  args: (string | number)[];
  announce: boolean;
  resolve(r: AppendResult): void;
  reject(err: unknown): void;
}

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
    redis.command.defineCommand('gwMailboxAppendMany', { lua: APPEND_MANY });
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

  /**
   * Appends issued in the same tick (a Kafka batch's pushes, concurrent API calls) share one
   * script call, in the order they were made: one command, one reply and one Lua invocation
   * for up to MAX_BATCH pushes, instead of one each.
   */
  append(bizId: string, userId: string, entry: NewEntry, opts: AppendOptions): Promise<AppendResult> {
    const k = this.keys(bizId, userId);
    const body = entry.bodyJson ?? JSON.stringify(entry.body);
    const announce = opts.persist && opts.announce !== undefined;
    // the bus message up to its body: the script appends the body, seq and epoch
    const head = announce ? busPayloadHead(this.nodeId, { k: 'push', mid: entry.mid, ts: entry.ts, ...(entry.exp ? { exp: entry.exp } : {}) }) : '';
    return new Promise((resolve, reject) => {
      this.pending.push({
        keys: [k.epoch, k.seq, k.stream, k.mid(entry.mid)],
        args: [
          entry.mid,
          body,
          entry.ts,
          opts.persist ? '1' : '0',
          entry.exp ?? 0,
          announce ? this.redis.keyPrefix + opts.announce : '',
          head,
          opts.listening ? '1' : '0',
        ],
        announce,
        resolve,
        reject,
      });
      if (this.pending.length === 1) process.nextTick(() => this.flushAppends());
    });
  }

  private pending: PendingAppend[] = [];

  private flushAppends(): void {
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) this.appendBatch(all.slice(i, i + MAX_BATCH));
  }

  private appendBatch(batch: PendingAppend[]): void {
    const keys: string[] = [];
    const args: (string | number)[] = [this.nextEpoch(), this.maxEntries, this.ttlSec, this.dedupTtlSec];
    for (const p of batch) {
      keys.push(...p.keys);
      args.push(...p.args);
    }
    const cmd = (this.redis.command as unknown as { gwMailboxAppendMany(n: number, ...args: (string | number)[]): Promise<(number | string)[]> })
      .gwMailboxAppendMany;
    cmd.call(this.redis.command, keys.length, ...keys, ...args).then(
      (out) => {
        batch.forEach((p, i) => {
          const seq = Number(out[i * 3]);
          p.resolve({ seq, epoch: String(out[i * 3 + 1]), duplicate: Number(out[i * 3 + 2]) === 1, announced: p.announce && seq > 0 });
        });
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
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
