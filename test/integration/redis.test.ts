import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BusMessage, Channels } from '../../src/bus/cluster-bus';
import { RedisClusterBus } from '../../src/infra/redis/redis-cluster.bus';
import { RedisConnection } from '../../src/infra/redis/redis.connection';
import { RedisSessionStore } from '../../src/infra/redis/redis-session.store';
import type { Session } from '../../src/session/session';

// Against the real Redis that scripts/deps.sh runs (or GATEWAY_REDIS_URL).
const url = process.env.GATEWAY_REDIS_URL ?? 'redis://127.0.0.1:6379';

function session(over: Partial<Session>): Session {
  return { sid: randomUUID(), bizId: 'b1', userId: 'u1', ip: '127.0.0.1', node: 'n1', connectedAt: Date.now(), ...over };
}

describe('redis session store (real Redis)', () => {
  const prefix = `it:${randomUUID()}:`;
  let redis: RedisConnection;
  let a: RedisSessionStore;
  let b: RedisSessionStore;
  let other: RedisConnection;
  // the caches' clock, moved by the tests (not 0: lru-cache takes a start time of 0 for "no TTL")
  let now = 1_000;
  const clock = { now: () => now };

  before(async () => {
    redis = new RedisConnection(url, prefix);
    other = new RedisConnection(url, prefix);
    await Promise.all([redis.waitReady(3000), other.waitReady(3000)]);
    a = new RedisSessionStore(redis, 100, 50, clock);
    b = new RedisSessionStore(other, 100, 50, clock);
  });
  after(async () => {
    const keys = await redis.command.keys(`${prefix}*`);
    if (keys.length) await redis.command.del(...keys);
    await redis.close();
    await other.close();
  });

  it('a session put by one node is seen by another, by id and in its user directory', async () => {
    const s1 = session({ deviceId: 'phone', name: 'Ann' });
    const s2 = session({ node: 'n2', deviceId: 'laptop', name: 'Ann' });
    await a.put(s1);
    await a.put(s2);
    assert.deepEqual(await b.get(s1.sid), s1);
    const links = await b.listByUser('b1', 'u1');
    assert.deepEqual(links.map((s) => s.sid).sort(), [s1.sid, s2.sid].sort());
  });

  it('removal is seen at once on the removing node and within the cache TTL elsewhere', async () => {
    const s = session({ userId: 'u-remove' });
    await a.put(s);
    assert.ok(await b.get(s.sid));
    assert.deepEqual(
      (await b.listByUser('b1', 'u-remove')).map((l) => l.sid),
      [s.sid],
    );
    await a.remove(s);
    assert.equal(await a.get(s.sid), undefined);
    assert.deepEqual(await a.listByUser('b1', 'u-remove'), []);
    // b answers from its cache until the TTL (50 ms here) has passed on its clock
    assert.ok(await b.get(s.sid), 'within the TTL the other node still has its cached copy');
    now += 51;
    assert.equal(await b.get(s.sid), undefined);
    assert.deepEqual(await b.listByUser('b1', 'u-remove'), []);
  });

  it('pages through every session with filters, each exactly once', async () => {
    const mine = Array.from({ length: 23 }, (_, i) => session({ bizId: 'page-biz', userId: `p${i}`, name: i % 2 ? 'Odd One' : 'even' }));
    for (const s of mine) await a.put(s);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await a.list({ bizId: 'page-biz', limit: 5, cursor });
      seen.push(...page.items.map((s) => s.sid));
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(seen.sort(), mine.map((s) => s.sid).sort());
    const odd = await a.list({ bizId: 'page-biz', name: 'odd', limit: 100 });
    assert.equal(odd.items.length, 11);
  });

  it("removeNode drops exactly that node's sessions", async () => {
    const dead = [session({ node: 'dead', userId: 'd1' }), session({ node: 'dead', userId: 'd2' })];
    const alive = session({ node: 'alive', userId: 'd1' });
    for (const s of [...dead, alive]) await a.put(s);
    assert.equal(await a.removeNode('dead'), 2);
    assert.deepEqual(
      (await a.listByUser('b1', 'd1')).map((s) => s.sid),
      [alive.sid],
    );
    assert.equal(await a.get(dead[1].sid), undefined);
  });
});

describe('redis cluster bus (real Redis)', () => {
  const prefix = `it:${randomUUID()}:`;
  let c1: RedisConnection;
  let c2: RedisConnection;
  before(async () => {
    c1 = new RedisConnection(url, prefix);
    c2 = new RedisConnection(url, prefix);
    // clients connect on first use; the node waits for them at boot (RedisModule), as here
    await Promise.all([c1.waitReady(3000), c2.waitReady(3000)]);
  });
  after(async () => {
    await c1.close();
    await c2.close();
  });

  it('delivers to the other subscribed node only, in order, never back to the publisher, and stops after unsubscribe', async () => {
    const n1 = new RedisClusterBus(c1, 'node-1');
    const n2 = new RedisClusterBus(c2, 'node-2');
    const got1: string[] = [];
    const got2: string[] = [];
    const channel = Channels.user('b', 'u');
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    n1.onMessage((ch, m) => {
      if (ch === channel && m.k === 'push') got1.push(m.mid);
      if (got1.length === 100) done();
    });
    n2.onMessage((_ch, m) => m.k === 'push' && got2.push(m.mid));
    await n1.subscribe(channel);
    await n2.subscribe(channel); // the publisher listens too, and must not hear itself
    const msgs: BusMessage[] = Array.from({ length: 100 }, (_, i) => ({ k: 'push', mid: String(i), body: { i }, ts: Date.now() }));
    const receivers = await Promise.all(msgs.map((m) => n2.publish(channel, m)));
    assert.ok(
      receivers.every((n) => n === 2),
      'Redis counts both subscribers',
    );
    await all;
    assert.deepEqual(
      got1,
      msgs.map((m) => (m as { mid: string }).mid),
    );
    assert.deepEqual(got2, []);
    await n1.unsubscribe(channel);
    await n2.unsubscribe(channel);
    assert.equal(await n2.publish(channel, msgs[0]), 0);
  });
});
