import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { NodeLoad, planRebalance, RebalanceOptions, RebalanceState } from './rebalance.planner';

const opts: RebalanceOptions = { thresholdRatio: 0.2, minLinks: 100, forMs: 30000, settleMs: 5000 };
const T0 = 1_000_000;
const node = (id: string, online: number, over: Partial<NodeLoad> = {}): NodeLoad => ({ id, online, eligible: true, startedAt: T0 - 600_000, ...over });
const known = (...loads: NodeLoad[]): RebalanceState => ({ known: loads.map((n) => n.id) });

describe('rebalance planner', () => {
  it('within the threshold: nothing, however long it lasts', () => {
    const loads = [node('a', 1100), node('b', 1000), node('c', 950)];
    let state = known(...loads);
    for (let t = T0; t < T0 + 120_000; t += 2000) {
      const plan = planRebalance(loads, opts, state, t);
      assert.equal(plan.move, undefined);
      state = plan.state;
    }
  });

  it('small clusters: a spread under minLinks moves nothing even far over the ratio', () => {
    const loads = [node('a', 90), node('b', 0)];
    const plan = planRebalance(loads, opts, { ...known(...loads), imbalancedSince: T0 - 3600_000 }, T0);
    assert.equal(plan.move, undefined);
    assert.equal(plan.allowed, 100);
  });

  it('a spread over the bound moves only once it lasted forMs, from the fullest to the mean, toward the emptiest', () => {
    const loads = [node('a', 1600), node('b', 1000), node('c', 400)];
    let plan = planRebalance(loads, opts, known(...loads), T0);
    assert.equal(plan.move, undefined, 'not at once');
    plan = planRebalance(loads, opts, plan.state, T0 + 29_000);
    assert.equal(plan.move, undefined, 'not before forMs');
    plan = planRebalance(loads, opts, plan.state, T0 + 30_000);
    assert.deepEqual(plan.move, { nodeId: 'a', targetLinks: 1000, toward: ['c'], trigger: 'spread' });
  });

  it('a break in the spread starts the wait again', () => {
    const high = [node('a', 1600), node('b', 400)];
    const even = [node('a', 1000), node('b', 1000)];
    let plan = planRebalance(high, opts, known(...high), T0);
    plan = planRebalance(even, opts, plan.state, T0 + 20_000);
    plan = planRebalance(high, opts, plan.state, T0 + 40_000);
    assert.equal(plan.move, undefined, 'the spread only just came back');
    plan = planRebalance(high, opts, plan.state, T0 + 70_000);
    assert.equal(plan.move?.nodeId, 'a');
  });

  it('a node joins: links move toward it once it settled, without waiting forMs', () => {
    const before = [node('a', 1500), node('b', 1500)];
    let plan = planRebalance(before, opts, { known: [] }, T0);
    assert.deepEqual(plan.state.known.sort(), ['a', 'b']);
    const joined = [...before, node('c', 0, { startedAt: T0 + 1000 })];
    plan = planRebalance(joined, opts, plan.state, T0 + 2000);
    assert.equal(plan.move, undefined, 'not before settleMs');
    plan = planRebalance(joined, opts, plan.state, T0 + 6000);
    assert.deepEqual(plan.move, { nodeId: 'a', targetLinks: 1000, toward: ['c'], trigger: 'joined' });
  });

  it('a join fills the new node from every fuller node in turn, each move at once, not forMs after the one before', () => {
    const before = [node('a', 1500), node('b', 1500)];
    let plan = planRebalance(before, opts, known(...before), T0);
    let loads = [...before, node('c', 0, { startedAt: T0 })];
    plan = planRebalance(loads, opts, plan.state, T0 + 6000);
    assert.deepEqual(plan.move, { nodeId: 'a', targetLinks: 1000, toward: ['c'], trigger: 'joined' });
    // the caller applied it: a 1000, c 500; b is now the fullest, c still half a node short
    loads = [node('a', 1000), node('b', 1500), node('c', 500, { startedAt: T0 })];
    plan = planRebalance(loads, opts, plan.state, T0 + 10_000);
    assert.deepEqual(plan.move, { nodeId: 'b', targetLinks: 1000, toward: ['c'], trigger: 'joined' });
    // level: the join is over, c is known, and a later spread waits forMs again
    loads = [node('a', 1000), node('b', 1000), node('c', 1000, { startedAt: T0 })];
    plan = planRebalance(loads, opts, plan.state, T0 + 14_000);
    assert.equal(plan.move, undefined);
    assert.deepEqual([...plan.state.known].sort(), ['a', 'b', 'c']);
    loads = [node('a', 1400), node('b', 1000), node('c', 600, { startedAt: T0 })];
    plan = planRebalance(loads, opts, plan.state, T0 + 16_000);
    assert.equal(plan.move, undefined, 'a spread after the join waits forMs');
  });

  it('repeated rounds bring three nodes within the threshold (the caller applies each move)', () => {
    let loads = [node('a', 1500), node('b', 1500), node('c', 0, { startedAt: T0 })];
    let state: RebalanceState = known(loads[0], loads[1]);
    let moves = 0;
    for (let t = T0 + 6000; t < T0 + 600_000; t += 10_000) {
      const plan = planRebalance(loads, opts, state, t);
      state = plan.state;
      if (!plan.move) continue;
      moves++;
      const { nodeId, targetLinks, toward } = plan.move;
      const moved = loads.find((n) => n.id === nodeId)!.online - targetLinks;
      loads = loads.map((n) => (n.id === nodeId ? { ...n, online: targetLinks } : n.id === toward[0] ? { ...n, online: n.online + moved } : n));
    }
    assert.ok(moves >= 1 && moves <= 3, `${moves} moves`);
    const counts = loads.map((n) => n.online);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 200, `still spread: ${counts}`);
    assert.equal(
      counts.reduce((s, n) => s + n, 0),
      3000,
      'no link made up or lost',
    );
  });

  it('nodes shedding, draining or rebalancing are neither sources nor destinations', () => {
    const loads = [node('a', 3000, { eligible: false }), node('b', 1600), node('c', 400), node('d', 0, { eligible: false })];
    const plan = planRebalance(loads, opts, { ...known(...loads), imbalancedSince: T0 - 60_000 }, T0);
    assert.deepEqual(plan.move, { nodeId: 'b', targetLinks: 1000, toward: ['c'], trigger: 'spread' });
  });

  it('fewer than two eligible nodes: nothing', () => {
    const loads = [node('a', 3000), node('b', 0, { eligible: false })];
    assert.equal(planRebalance(loads, opts, { ...known(...loads), imbalancedSince: 0 }, T0).move, undefined);
  });
});
