import { randomBytes } from 'node:crypto';
import { Channels } from '../../bus/cluster-bus';
import { LogEntry, LogResult, PushLog } from '../../mailbox/push-log';
import { busPayloadHead } from './redis-bus.wire';
import { mailboxKeys } from './redis-mailbox';
import { RedisConnection } from './redis.connection';

// KEYS: per item, epoch, seq, stream, dedup (4 each)
// ARGV: newEpoch, maxLen, ttlSec, dedupTtlSec, then per item (8 each):
//       mid, body, ts, persist, exp, announceChannel, announceHead, listening
//       (announceHead: the bus payload up to the body, which the script appends from `body`)
// One round trip for a whole batch of appends, each atomic and in the order given: dedup by
// mid, epoch (created if the old one expired with the stream), next seq, append with a cap,
// refresh every TTL, announce. Returns {seq, epoch, duplicate, published} per item, flattened.
// The announcement is skipped when the appending node listens on the channel and is its only
// subscriber: it delivers to its own links itself, so the message would only come back to it.
const APPEND_MANY = `
local newEpoch = ARGV[1]
local maxLen = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local dedupTtl = tonumber(ARGV[4])
local function announce(chan, listening, payload)
  if chan == '' then return 0 end
  if listening == '1' and redis.call('PUBSUB', 'NUMSUB', chan)[2] == 1 then return 0 end
  redis.call('PUBLISH', chan, payload)
  return 1
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
    out[#out + 1] = 0
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
      local published = 0
      if tonumber(prev) > 0 then
        published = announce(chan, listening, head .. body .. ',"seq":' .. prev .. ',"epoch":"' .. epoch .. '","redelivery":true}')
      end
      out[#out + 1] = tonumber(prev)
      out[#out + 1] = epoch
      out[#out + 1] = 1
      out[#out + 1] = published
    else
      local seq = redis.call('INCR', kSeq)
      redis.call('SET', kMid, seq, 'EX', dedupTtl)
      redis.call('XADD', kStream, 'MAXLEN', '=', maxLen, seq .. '-1', 'mid', mid, 'body', body, 'ts', ARGV[a + 3], 'exp', ARGV[a + 5])
      redis.call('EXPIRE', kEpoch, ttl)
      redis.call('EXPIRE', kSeq, ttl)
      redis.call('EXPIRE', kStream, ttl)
      local published = announce(chan, listening, head .. body .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}')
      out[#out + 1] = seq
      out[#out + 1] = epoch
      out[#out + 1] = 0
      out[#out + 1] = published
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
  resolve(r: LogResult): void;
  reject(err: unknown): void;
}

type AppendManyCommand = (n: number, ...args: (string | number)[]) => Promise<(number | string)[]>;

/**
 * PushLog on Redis: one Lua step per push stores it in the user's mailbox (layout:
 * mailboxKeys) and PUBLISHes it on the user's bus channel in the bus's own wire format
 * (redis-bus.wire), so storing and announcing cannot be separated by a crash. Appends issued in
 * the same tick (a Kafka batch's pushes, concurrent API calls) share one script call, in the
 * order they were made: one command, one reply and one Lua invocation for up to MAX_BATCH.
 */
export class RedisPushLog extends PushLog {
  private pending: PendingAppend[] = [];
  private epochSeed = randomBytes(6).toString('base64url');
  private epochCount = 0;
  private readonly appendMany: AppendManyCommand;

  constructor(
    private readonly redis: RedisConnection,
    private readonly maxEntries: number,
    private readonly ttlSec: number,
    private readonly dedupTtlSec: number,
    /** this node's id: announced pushes carry it as the bus sender, so the node drops its own */
    private readonly nodeId: string,
  ) {
    super();
    redis.command.defineCommand('gwMailboxAppendMany', { lua: APPEND_MANY });
    const command = redis.command as unknown as { gwMailboxAppendMany: AppendManyCommand };
    this.appendMany = command.gwMailboxAppendMany.bind(redis.command);
  }

  /**
   * A fresh epoch candidate for every call (used only when the user has none): unique per
   * process and call without a random read per push.
   */
  private nextEpoch(): string {
    if (++this.epochCount > 1e9) {
      this.epochSeed = randomBytes(6).toString('base64url');
      this.epochCount = 0;
    }
    return `${this.epochSeed}${this.epochCount.toString(36)}`;
  }

  append(bizId: string, userId: string, entry: LogEntry, opts: { listening: boolean }): Promise<LogResult> {
    const k = mailboxKeys(this.redis.keyPrefix, bizId, userId);
    const body = entry.bodyJson ?? JSON.stringify(entry.body);
    // the bus message up to its body: the script appends the body, seq and epoch
    const head = busPayloadHead(this.nodeId, { k: 'push', mid: entry.mid, ts: entry.ts, ...(entry.exp ? { exp: entry.exp } : {}) });
    const channel = this.redis.keyPrefix + Channels.user(bizId, userId);
    return this.enqueue(
      [k.epoch, k.seq, k.stream, k.mid(entry.mid)],
      [entry.mid, body, entry.ts, '1', entry.exp ?? 0, channel, head, opts.listening ? '1' : '0'],
    );
  }

  async claim(bizId: string, scope: string, mid: string): Promise<boolean> {
    const k = mailboxKeys(this.redis.keyPrefix, bizId, scope);
    const r = await this.enqueue([k.epoch, k.seq, k.stream, k.mid(mid)], [mid, '', 0, '0', 0, '', '', '0']);
    return !r.duplicate;
  }

  private enqueue(keys: PendingAppend['keys'], args: PendingAppend['args']): Promise<LogResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ keys, args, resolve, reject });
      if (this.pending.length === 1) process.nextTick(() => this.flush());
    });
  }

  private flush(): void {
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) this.run(all.slice(i, i + MAX_BATCH));
  }

  private run(batch: PendingAppend[]): void {
    const keys: string[] = [];
    const args: (string | number)[] = [this.nextEpoch(), this.maxEntries, this.ttlSec, this.dedupTtlSec];
    for (const p of batch) {
      keys.push(...p.keys);
      args.push(...p.args);
    }
    this.appendMany(keys.length, ...keys, ...args).then(
      (out) =>
        batch.forEach((p, i) =>
          p.resolve({
            seq: Number(out[i * 4]),
            epoch: String(out[i * 4 + 1]),
            duplicate: Number(out[i * 4 + 2]) === 1,
            published: Number(out[i * 4 + 3]) === 1,
          }),
        ),
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }
}
