import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AlertRecord } from '../../cluster/control';
import { MoveLog } from '../../cluster/move-log';
import type { NodeInfo } from '../../cluster/node-registry';
import { backendsByBiz, directiveList, NodeSightings, recentAlerts } from './overview';

const node = (id: string, state: NodeInfo['state'] = 'running', online = 0): NodeInfo => ({
  id,
  wsUrl: `ws://${id}:9002/ws`,
  adminUrl: `http://${id}:9003`,
  online,
  users: online,
  capacity: 100,
  state,
  startedAt: 0,
  updatedAt: 0,
});
const self = { id: 'a', running: true, state: 'running' };

describe('admin overview assembly', () => {
  it('lists the registry healthy, marks the leader, and this node unhealthy while it is not running', () => {
    const s = new NodeSightings();
    const nodes = s.nodes(1000, [node('b', 'shedding', 3), node('a')], 'b', { id: 'a', running: false, state: 'draining' });
    assert.deepEqual(
      nodes.map((n) => [n.id, n.healthy, n.leader, n.state, n.online, n.lastCheck, n.error]),
      [
        ['a', false, false, 'running', 0, 1000, 'this node is draining'],
        ['b', true, true, 'shedding', 3, 1000, undefined],
      ],
    );
  });

  it('keeps a node that left the registry, unhealthy with when it was last seen, for the keep window, then drops it', () => {
    const s = new NodeSightings(60_000);
    s.nodes(1000, [node('a'), node('b', 'running', 5)], null, self);
    const after = s.nodes(31_000, [node('a')], null, self);
    const b = after.find((n) => n.id === 'b');
    assert.ok(b, 'the vanished node is still listed');
    assert.equal(b.healthy, false);
    assert.equal(b.lastCheck, 1000);
    assert.equal(b.online, 5, 'as it was last seen');
    assert.match(b.error ?? '', /gone from the registry 30 s ago/);
    assert.deepEqual(
      s.nodes(61_001, [node('a')], null, self).map((n) => n.id),
      ['a'],
      'past the window it is gone',
    );
  });

  it('a node that comes back is healthy again at once', () => {
    const s = new NodeSightings();
    s.nodes(1000, [node('a'), node('b')], null, self);
    s.nodes(2000, [node('a')], null, self);
    assert.deepEqual(
      s.nodes(3000, [node('a'), node('b')], null, self).map((n) => [n.id, n.healthy]),
      [
        ['a', true],
        ['b', true],
      ],
    );
  });

  it('with the registry unavailable shows every known node unhealthy with the reason', () => {
    const s = new NodeSightings();
    s.nodes(1000, [node('a'), node('b')], 'a', self);
    const down = s.nodes(2000, undefined, 'a', self, 'node registry: no answer within 1500 ms');
    assert.deepEqual(
      down.map((n) => [n.id, n.healthy, n.lastCheck]),
      [
        ['a', false, 1000],
        ['b', false, 1000],
      ],
    );
    assert.match(down[0].error ?? '', /registry unavailable: node registry: no answer/);
  });

  it('groups circuits per biz, sorts alerts newest first and bounds them, lists directives with their node', () => {
    assert.deepEqual(
      backendsByBiz([
        { bizId: 'shop', instance: 'i2', addr: 'h:2', circuit: 'open', outstanding: 0 },
        { bizId: 'chat', instance: 'i1', addr: 'h:1', circuit: 'closed', outstanding: 2 },
        { bizId: 'shop', instance: 'i1', addr: 'h:3', circuit: 'closed', outstanding: 1 },
      ]),
      [
        { bizId: 'chat', instances: [{ instance: 'i1', addr: 'h:1', circuit: 'closed', outstanding: 2 }] },
        {
          bizId: 'shop',
          instances: [
            { instance: 'i1', addr: 'h:3', circuit: 'closed', outstanding: 1 },
            { instance: 'i2', addr: 'h:2', circuit: 'open', outstanding: 0 },
          ],
        },
      ],
    );
    const alert = (receivedAt: number) => ({ nodeId: 'a', key: `k${receivedAt}`, receivedAt }) as AlertRecord;
    assert.deepEqual(
      recentAlerts([alert(1), alert(3), alert(2)], 2).map((a) => a.receivedAt),
      [3, 2],
    );
    const d = (issuedAt: number) => ({ id: `d${issuedAt}`, action: 'shed' as const, reason: 'alert' as const, issuedAt, by: 'a' });
    assert.deepEqual(
      directiveList(
        new Map([
          ['a', d(1)],
          ['b', d(2)],
        ]),
      ).map((x) => [x.nodeId, x.id]),
      [
        ['b', 'd2'],
        ['a', 'd1'],
      ],
    );
  });

  it('the move log keeps one record per run that moved links, newest first, bounded', () => {
    const log = new MoveLog(2);
    const idle = log.begin('a', 'drain');
    idle(0);
    assert.deepEqual(log.recent(), [], 'a run that moved nothing leaves no record');
    const first = log.begin('a', 'alert');
    first(1, 10);
    first(2, 20);
    const second = log.begin('a', 'manual');
    second(1, 30);
    assert.deepEqual(log.recent(), [
      { node: 'a', reason: 'manual', count: 1, at: 30 },
      { node: 'a', reason: 'alert', count: 3, at: 20 },
    ]);
    log.begin('a', 'rebalance')(4, 40);
    assert.deepEqual(
      log.recent().map((r) => r.reason),
      ['rebalance', 'manual'],
    );
  });
});
