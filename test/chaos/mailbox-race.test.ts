import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisMailbox } from '../../src/infra/redis/redis-mailbox';
import { REDIS_URL } from '../fixtures/infra';

/**
 * Found by `make chaos` (case 2, Redis dropping the pub/sub connections): after a bus
 * interruption a link replays from the mailbox while its user's pushes keep coming, and got
 * `resync {reason: gap_too_old, seq: cursor+1}` for a push the mailbox held (the 16th push of a
 * user, mailbox cap 100, seconds old). RedisMailbox.readAfter reads the stream (MULTI GET epoch +
 * XRANGE) and, when nothing follows the cursor, reads the last seq in a second command: a push
 * appended between the two looks "aged out". This test appends exactly there.
 *
 * docs/protocol.md: gap_too_old means "the pushes between fell out of the mailbox (more than
 * mailbox.maxEntries or older than mailbox.ttlSec)". Expected: the entry (or nothing yet, the
 * live push then follows); observed: a resync declaring seq 4 lost while the stream holds it.
 */
describe('mailbox: a push appended while a replay reads is not declared aged out (make chaos, case 2)', () => {
  const prefix = `chaos-race:${randomUUID().slice(0, 8)}:`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const u = 'b:u';
  const keys = { epoch: `${prefix}mbep:${u}`, seq: `${prefix}mbseq:${u}`, stream: `${prefix}mb:${u}` };

  before(async () => {
    await redis.set(keys.epoch, 'E1');
    await redis.set(keys.seq, '3');
    for (let s = 1; s <= 3; s++) await redis.xadd(keys.stream, `${s}-1`, 'mid', `m${s}`, 'body', '1', 'ts', '0', 'exp', '0');
  });
  after(async () => {
    await redis.del(keys.epoch, keys.seq, keys.stream);
    redis.disconnect();
  });

  it('readAfter at the head, with seq 4 appended between its two reads', async () => {
    let appended = false;
    // the mailbox's command client, with the append of push 4 (INCR + XADD, as the push log's
    // script does atomically) landing just before the mailbox's separate GET of the last seq
    const command = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'get')
          return async (key: string) => {
            if (key === keys.seq && !appended) {
              appended = true;
              await target.multi().incr(keys.seq).xadd(keys.stream, '4-1', 'mid', 'm4', 'body', '1', 'ts', '0', 'exp', '0').exec();
            }
            return target.get(key);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const mailbox = new RedisMailbox({ keyPrefix: prefix, command } as never);
    const got = await mailbox.readAfter('b', 'u', 'E1', 3);
    const stored = (await redis.xrange(keys.stream, '4-0', '+')).map(([id]) => id);
    assert.deepEqual(stored, ['4-1'], 'the stream holds seq 4');
    assert.ok(
      !(got.kind === 'resync' && got.reason === 'gap_too_old'),
      `readAfter(E1, 3) answered ${JSON.stringify(got)} while the mailbox holds seq 4: a link would be told push 4 aged out`,
    );
  });
});
