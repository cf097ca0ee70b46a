import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Candidate, Strategy } from './strategy';

const nodes = (...ids: string[]): Candidate[] => ids.map((id) => ({ id, load: 0, capacity: 100 }));

describe('Strategy', () => {
  it('round_robin takes the nodes in turn and falls back to the others in order', () => {
    const s = new Strategy('round_robin');
    const firsts = Array.from({ length: 6 }, () => s.order(nodes('c', 'a', 'b'), 'u').map((c) => c.id));
    assert.deepEqual(
      firsts.map((o) => o[0]),
      ['a', 'b', 'c', 'a', 'b', 'c'],
    );
    assert.deepEqual(firsts[1], ['b', 'c', 'a']);
  });

  it('least_conn prefers the lowest load per capacity', () => {
    const s = new Strategy('least_conn');
    const order = s.order(
      [
        { id: 'a', load: 50, capacity: 100 },
        { id: 'b', load: 60, capacity: 200 },
        { id: 'c', load: 10, capacity: 100 },
      ],
      'u',
    );
    assert.deepEqual(
      order.map((c) => c.id),
      ['c', 'b', 'a'],
    );
  });

  it('consistent_hash keeps a user on one node and spreads users over all of them', () => {
    const s = new Strategy('consistent_hash');
    const all = nodes('n1', 'n2', 'n3', 'n4');
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const first = s.order(all, `user-${i}`)[0].id;
      assert.equal(s.order([...all].reverse(), `user-${i}`)[0].id, first, 'the order of candidates does not matter');
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    assert.equal(counts.size, 4);
    for (const [id, n] of counts) assert.ok(n > 700 && n < 1300, `${id} got ${n} of 4000 users`);
  });

  it('consistent_hash moves only the users of a node that leaves', () => {
    const s = new Strategy('consistent_hash');
    const all = nodes('n1', 'n2', 'n3', 'n4');
    const without = all.filter((n) => n.id !== 'n3');
    for (let i = 0; i < 2000; i++) {
      const before = s.order(all, `user-${i}`);
      const after = s.order(without, `user-${i}`)[0].id;
      if (before[0].id !== 'n3') assert.equal(after, before[0].id);
      else assert.equal(after, before[1].id, 'a leaving node hands its users to the next node on the ring');
    }
  });

  it('every strategy offers every candidate once', () => {
    for (const name of ['round_robin', 'least_conn', 'consistent_hash'] as const) {
      const order = new Strategy(name).order(nodes('a', 'b', 'c'), 'u');
      assert.deepEqual(order.map((c) => c.id).sort(), ['a', 'b', 'c'], name);
    }
  });
});
