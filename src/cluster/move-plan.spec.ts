import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseDirective } from './directive-source';
import { candidatePeers, drainRate, leastLoaded, MOVE_TICK_MS, Pacer, PeerRoom, PeerSpreader } from './move-plan';
import type { NodeInfo } from './node-registry';

const node = (id: string, online: number, capacity: number, state: NodeInfo['state'] = 'running', updatedAt = 1): NodeInfo => ({
  id,
  wsUrl: `ws://${id}/ws`,
  adminUrl: `http://${id}`,
  online,
  users: online,
  capacity,
  state,
  startedAt: 0,
  updatedAt,
});

function countPicks(spreader: PeerSpreader, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = spreader.pick();
    const key = p?.id ?? 'none';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('move pacing', () => {
  it('releases the rate evenly per tick; a late tick catches up at most 4 ticks at once, the rest on the next ones', () => {
    const pacer = new Pacer(200, 0);
    const perTick: number[] = [];
    for (let t = 0; t <= 1000; t += MOVE_TICK_MS) perTick.push(pacer.take(t));
    // 200/s at 50 ms ticks: 10 each, the first batch at once
    assert.ok(
      perTick.every((n) => n === 10),
      `per tick: ${perTick.join(',')}`,
    );
    // the event loop stalled for 300 ms: 60 are due, released 40 now and the rest on the next ticks
    assert.equal(pacer.take(1300), 40);
    assert.equal(pacer.take(1350), 30);
    assert.equal(pacer.take(1400), 10);
    // over the whole run the rate holds: 1 tick's worth + 200/s x 1.4 s
    assert.equal(10 + 200 * 1.4, perTick.reduce((a, b) => a + b, 0) + 80);
  });

  it('carries fractions, so low rates still move at the rate over time', () => {
    const pacer = new Pacer(3, 0);
    let total = 0;
    for (let t = MOVE_TICK_MS; t <= 10000; t += MOVE_TICK_MS) total += pacer.take(t);
    // 1 at once (the first tick's worth rounds up to one link), then 3/s for 10 s
    assert.equal(total, 31);
  });

  it('drains at the configured rate, or faster when the links would not fit in the spread window', () => {
    assert.equal(drainRate(3, 10000, 0.8, 200), 200);
    assert.equal(drainRate(2000, 10000, 0.8, 200), 250);
    assert.equal(drainRate(10000, 10000, 0.5, 200), 2000);
    assert.equal(drainRate(5, 0, 0.8, 1), 5);
  });
});

describe('peer choice', () => {
  it('lists running peers with room, not this node nor shedding, draining, starting or full ones', () => {
    const peers = candidatePeers(
      [
        node('self', 0, 100),
        node('b', 10, 100),
        node('c', 100, 100),
        node('d', 0, 100, 'shedding'),
        node('e', 0, 100, 'draining'),
        node('f', 0, 100, 'starting'),
        node('a', 50, 100),
      ],
      'self',
    );
    assert.deepEqual(
      peers.map((p) => [p.id, p.free]),
      [
        ['a', 50],
        ['b', 90],
      ],
    );
  });

  it('names the least-loaded running peer by load ratio for a 503 body', () => {
    assert.deepEqual(leastLoaded([node('self', 0, 10), node('b', 50, 100), node('c', 10, 100), node('d', 0, 100, 'shedding')], 'self'), {
      node: 'c',
      url: 'ws://c/ws',
    });
    assert.equal(leastLoaded([node('self', 0, 10), node('b', 100, 100)], 'self'), undefined);
  });

  it('spreads moves over peers in proportion to their free room, interleaved rather than in runs', () => {
    const spreader = new PeerSpreader();
    spreader.update(candidatePeers([node('b', 0, 3000), node('c', 2000, 3000)], 'self'));
    const picks: string[] = [];
    for (let i = 0; i < 40; i++) picks.push(spreader.pick()!.id);
    const b = picks.filter((p) => p === 'b').length;
    // free room 3000 : 1000 -> 3 : 1
    assert.equal(b, 30);
    // no peer gets a long run in a row at this ratio: the reconnects are interleaved
    assert.ok(!picks.join('').includes('bbbbb') && !picks.join('').includes('cc'), picks.join(''));
  });

  it('counts what it already sent: a peer runs out of room and the rest go to the other', () => {
    const spreader = new PeerSpreader();
    spreader.update(candidatePeers([node('b', 95, 100), node('c', 0, 100)], 'self'));
    const counts = countPicks(spreader, 120);
    assert.equal(counts.b, 5);
    assert.equal(counts.c, 100);
    assert.equal(counts.none, 15, 'no peer has room left');
  });

  it('keeps its counts for a peer that did not publish again, restarts them for one that did', () => {
    const spreader = new PeerSpreader();
    const rooms = (bAt: number): PeerRoom[] => candidatePeers([node('b', 0, 10, 'running', bAt), node('c', 0, 10, 'running', 1)], 'self');
    spreader.update(rooms(1));
    assert.deepEqual(countPicks(spreader, 20), { b: 10, c: 10 });
    spreader.update(rooms(1));
    assert.equal(spreader.pick(), undefined, 'nobody published: both still full by our own count');
    spreader.update(rooms(2)); // b published 0 online again (its clients left)
    assert.equal(spreader.pick()?.id, 'b');
  });

  it('sends to the preferred nodes first, spread among them, and to others only when they are full', () => {
    const spreader = new PeerSpreader(['d', 'c']);
    spreader.update(candidatePeers([node('b', 0, 1000), node('c', 0, 4), node('d', 0, 4)], 'self'));
    const counts = countPicks(spreader, 10);
    assert.deepEqual(counts, { c: 4, d: 4, b: 2 });
  });
});

describe('directive values', () => {
  it('accepts a Directive and names the problem of anything else', () => {
    const good = { id: 'd1', action: 'shed', reason: 'alert', targetLinks: 10, toward: ['b'], issuedAt: 1, by: 'leader' };
    assert.deepEqual(parseDirective(JSON.stringify(good)), { ok: true, directive: good });
    assert.deepEqual(parseDirective('{nope'), { ok: false, problem: 'not JSON' });
    const bad = parseDirective(JSON.stringify({ ...good, action: 'explode', targetLinks: -1 }));
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.problem : '', /action: .*targetLinks: /);
    assert.equal(parseDirective('null').ok, false);
  });
});
