import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisMailbox } from '../../src/infra/redis/redis-mailbox';
import { REDIS_URL } from '../fixtures/infra';

/**
 * Found by `make chaos` (case 2, Redis dropping the pub/sub connections): after a bus
 * interruption a link replays from the mailbox while its user's pushes keep coming, and got
 * `resync {reason: gap_too_old}` for a push the mailbox held. readAfter read the stream in one
 * MULTI and the last seq in a second command: a push appended between the two looked aged out.
 * The fix reads everything in one MULTI; this test appends a push right before every command the
 * mailbox sends on its own (outside a MULTI), so a read split in two is caught every time.
 */
describe('mailbox: a push appended while a replay reads is not declared aged out (make chaos, case 2)', () => {
  const prefix = `chaos-race:${randomUUID().slice(0, 8)}:`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const u = 'b:u';
  const keys = { epoch: `${prefix}mbep:${u}`, seq: `${prefix}mbseq:${u}`, stream: `${prefix}mb:${u}` };
  let next = 4;
  const append = () => {
    const seq = next++;
    return redis.multi().incr(keys.seq).xadd(keys.stream, `${seq}-1`, 'mid', `m${seq}`, 'body', '1', 'ts', '0', 'exp', '0').exec();
  };

  before(async () => {
    await redis.set(keys.epoch, 'E1');
    await redis.set(keys.seq, '3');
    for (let s = 1; s <= 3; s++) await redis.xadd(keys.stream, `${s}-1`, 'mid', `m${s}`, 'body', '1', 'ts', '0', 'exp', '0');
  });
  after(async () => {
    await redis.del(keys.epoch, keys.seq, keys.stream);
    redis.disconnect();
  });

  it('readAfter at the head, with pushes appended before each of its own commands', async () => {
    const standalone: string[] = [];
    // the mailbox's command client: a MULTI passes as is; any other command first lets a push in
    const command = new Proxy(redis, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        if (prop === 'multi') return v.bind(target);
        return async (...args: unknown[]) => {
          standalone.push(String(prop));
          await append();
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const mailbox = new RedisMailbox({ keyPrefix: prefix, command } as never);
    const got = await mailbox.readAfter('b', 'u', 'E1', 3);
    assert.ok(
      !(got.kind === 'resync' && got.reason === 'gap_too_old'),
      `readAfter(E1, 3) answered ${JSON.stringify(got)} (commands outside its MULTI: ${standalone.join(', ') || 'none'}) while the mailbox holds every seq after 3`,
    );
  });
});
