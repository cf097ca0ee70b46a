import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RedisConnection } from '../../src/infra/redis/redis.connection';
import { RedisMailbox } from '../../src/infra/redis/redis-mailbox';
import { RedisPushLog } from '../../src/infra/redis/redis-push.log';
import { RedisRoomStore } from '../../src/infra/redis/redis-room.store';
import { RedisClusterBus } from '../../src/infra/redis/redis-cluster.bus';
import type { BusMessage } from '../../src/bus/cluster-bus';

const url = process.env.GATEWAY_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('redis mailbox, push log and rooms (real Redis)', () => {
  const prefix = `it:${randomUUID()}:`;
  let redis: RedisConnection;
  let box: RedisMailbox;
  let log: RedisPushLog;
  before(async () => {
    redis = new RedisConnection(url, prefix);
    await redis.waitReady(3000);
    box = new RedisMailbox(redis);
    log = new RedisPushLog(redis, 5, 60, 60, 'it-node');
  });
  after(async () => {
    const keys = await redis.command.keys(`${prefix}*`);
    if (keys.length) await redis.command.del(...keys);
    await redis.close();
  });

  it('gives concurrent appends consecutive seqs in one epoch and reads them back in order', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => log.append('b', 'u1', { mid: `m${i}`, body: { i }, ts: i }, { listening: false })));
    assert.deepEqual(
      results.map((r) => r.seq).sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
    );
    assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
    const read = await box.readAfter('b', 'u1', results[0].epoch, 2);
    assert.equal(read.kind, 'entries');
    assert.deepEqual(read.kind === 'entries' && read.entries.map((e) => e.seq), [3, 4, 5]);
  });

  it('drops a repeated mid, and keeps at most maxEntries (older gaps resync)', async () => {
    const first = await log.append('b', 'u2', { mid: 'same', body: 1, ts: 0 }, { listening: false });
    const again = await log.append('b', 'u2', { mid: 'same', body: 1, ts: 0 }, { listening: false });
    assert.deepEqual([again.duplicate, again.seq], [true, first.seq]);
    for (let i = 0; i < 8; i++) await log.append('b', 'u2', { mid: `n${i}`, body: i, ts: 0 }, { listening: false });
    assert.equal(await redis.command.xlen(`${prefix}mb:b:u2`), 5);
    const gap = await box.readAfter('b', 'u2', first.epoch, 1);
    // the cap of 5 kept seqs 5-9: lost up to 4, and what follows can still be read
    assert.deepEqual(gap, { kind: 'resync', epoch: first.epoch, seq: 4, reason: 'gap_too_old' });
  });

  it('a lost stream comes back with a new epoch, so an old cursor resyncs', async () => {
    const r = await log.append('b', 'u3', { mid: 'a', body: 1, ts: 0 }, { listening: false });
    await redis.command.del(`${prefix}mb:b:u3`, `${prefix}mbseq:b:u3`, `${prefix}mbep:b:u3`);
    const after = await log.append('b', 'u3', { mid: 'b', body: 2, ts: 0 }, { listening: false });
    assert.notEqual(after.epoch, r.epoch);
    assert.equal(after.seq, 1);
    assert.equal((await box.readAfter('b', 'u3', r.epoch, 1)).kind, 'resync');
  });

  it('every key of a mailbox expires after the TTL', async () => {
    await log.append('b', 'u4', { mid: 'x', body: 1, ts: 0 }, { listening: false });
    for (const k of ['mb', 'mbseq', 'mbep']) {
      const ttl = await redis.command.ttl(`${prefix}${k}:b:u4`);
      assert.ok(ttl > 0 && ttl <= 60, `${k} ttl ${ttl}`);
    }
  });

  it('announces a stored push on the bus in the same step, with seq and epoch, and a redelivery as such', async () => {
    const other = new RedisConnection(url, prefix);
    const bus = new RedisClusterBus(other, 'another-node');
    const got: BusMessage[] = [];
    let two!: () => void;
    const arrived = new Promise<void>((r) => (two = r));
    bus.onMessage((_ch, m) => {
      got.push(m);
      if (got.length === 2) two();
    });
    await bus.subscribe('user:b:u5');
    const first = await log.append('b', 'u5', { mid: 'ann-1', body: { hello: 'world' }, ts: 7 }, { listening: false });
    const again = await log.append('b', 'u5', { mid: 'ann-1', body: { hello: 'world' }, ts: 7 }, { listening: false });
    await arrived;
    await other.close();
    assert.deepEqual([first.published, again.published, again.duplicate], [true, true, true]);
    assert.deepEqual(got, [
      { k: 'push', mid: 'ann-1', ts: 7, body: { hello: 'world' }, seq: 1, epoch: first.epoch },
      { k: 'push', mid: 'ann-1', ts: 7, body: { hello: 'world' }, seq: 1, epoch: first.epoch, redelivery: true },
    ]);
  });

  it('skips the announcement when the appending node listens and is the only subscriber, not when another node listens', async () => {
    const channel = 'user:b:u6';
    // raw subscribers see every message, the node's own included
    const self = new RedisConnection(url, prefix);
    const other = new RedisConnection(url, prefix);
    const seen: { who: string; payload: string }[] = [];
    const marks = new Map<string, () => void>();
    for (const [who, conn] of [
      ['self', self],
      ['other', other],
    ] as const) {
      conn.subscriber.on('message', (_ch: string, payload: string) => {
        seen.push({ who, payload });
        marks.get(`${who}:${payload}`)?.();
      });
    }
    const mark = (who: string, payload: string) => new Promise<void>((r) => marks.set(`${who}:${payload}`, r));
    const mids = (who: string) => seen.filter((s) => s.who === who && s.payload.includes('"k":"push"')).map((s) => JSON.parse(s.payload.split('\n')[1]).mid);
    try {
      await self.subscriber.subscribe(prefix + channel);
      // alone on the channel: stored, not announced; the marker published after it arrives alone
      const alone = await log.append('b', 'u6', { mid: 'solo', body: 1, ts: 1 }, { listening: true });
      const m1 = mark('self', 'marker-1');
      await redis.command.publish(prefix + channel, 'marker-1');
      await m1;
      assert.deepEqual([alone.seq, alone.published], [1, false]);
      assert.deepEqual(mids('self'), []);
      // another node listens too: announced to both (the appending node drops its own copy by sender)
      await other.subscriber.subscribe(prefix + channel);
      const shared = mark('other', 'marker-2');
      const both = await log.append('b', 'u6', { mid: 'duo', body: 2, ts: 2 }, { listening: true });
      await redis.command.publish(prefix + channel, 'marker-2');
      await shared;
      assert.deepEqual([both.seq, both.published], [2, true]);
      assert.deepEqual([mids('self'), mids('other')], [['duo'], ['duo']]);
      // not listening (no links here): announced even with a single subscriber elsewhere
      await self.subscriber.unsubscribe(prefix + channel);
      const last = mark('other', 'marker-3');
      await log.append('b', 'u6', { mid: 'away', body: 3, ts: 3 }, { listening: false });
      await redis.command.publish(prefix + channel, 'marker-3');
      await last;
      assert.deepEqual(mids('other'), ['duo', 'away']);
    } finally {
      await self.close();
      await other.close();
    }
  });

  it('room membership is stored per room and per user', async () => {
    const rooms = new RedisRoomStore(redis);
    assert.equal(await rooms.join('b', 'r', 'u1'), true);
    assert.equal(await rooms.join('b', 'r', 'u1'), false);
    await rooms.join('b', 'r', 'u2');
    assert.deepEqual((await rooms.members('b', 'r')).sort(), ['u1', 'u2']);
    assert.deepEqual(await rooms.roomsOf('b', 'u1'), ['r']);
    await rooms.leave('b', 'r', 'u1');
    assert.deepEqual(await rooms.members('b', 'r'), ['u2']);
    assert.deepEqual(await rooms.roomsOf('b', 'u1'), []);
  });
});
