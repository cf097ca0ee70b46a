import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/config.loader';
import { GatewayConfig } from '../config/gateway.config';
import { MemoryControlStore } from '../infra/memory/memory-control.store';
import { MemoryLeaderElection } from '../infra/memory/memory-leader.election';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { alertKey } from './alert-key';
import { AlertRecord, Directive } from './control';
import { CoordinatorService, shedTarget } from './coordinator.service';
import { LeaderService } from './leader.service';
import { NodeInfo, NodeRegistry } from './node-registry';

class FixedRegistry extends NodeRegistry {
  constructor(public nodes: NodeInfo[]) {
    super();
  }
  async register(): Promise<void> {}
  async update(): Promise<void> {}
  async deregister(): Promise<void> {}
  async list(): Promise<NodeInfo[]> {
    return this.nodes;
  }
}

const info = (id: string, online: number, updatedAt = 0): NodeInfo => ({
  id,
  wsUrl: `ws://127.0.0.1:1/${id}`,
  adminUrl: `http://127.0.0.1:2/${id}`,
  online,
  users: online,
  capacity: 10000,
  state: 'running',
  startedAt: 0,
  updatedAt,
});

function alert(nodeId: string, status: AlertRecord['status'], over: Partial<AlertRecord> = {}): AlertRecord {
  const startsAt = over.startsAt ?? '2025-05-01T10:00:00Z';
  return {
    nodeId,
    key: alertKey(over.alertname ?? 'fp1', startsAt, status),
    alertname: 'GatewayOverloaded',
    status,
    source: 'alertmanager',
    startsAt,
    receivedAt: Date.now(),
    receivedBy: 'x',
    ...over,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(env: Record<string, string> = {}, nodes = [info('n1', 2000), info('n2', 100)]) {
  const { config: resolved } = loadConfig({ env: { GATEWAY_NODE_ID: 'leader-1', GATEWAY_REBALANCE_ENABLED: 'false', ...env } });
  const config = GatewayConfig.from(resolved);
  const store = new MemoryControlStore();
  const registry = new FixedRegistry(nodes);
  const metrics = new GatewayMetrics();
  const leader = new LeaderService(config, new MemoryLeaderElection(), metrics);
  const coordinator = new CoordinatorService(config, leader, store, registry, metrics);
  coordinator.onModuleInit();
  leader.start();
  await until('the lead', async () => (leader.leading ? true : undefined));
  const directive = (node: string, pred: (d: Directive) => boolean) =>
    until(`a directive for ${node}`, async () => ((d) => (d && pred(d) ? d : undefined))(await store.directive(node)));
  return {
    store,
    registry,
    metrics,
    directive,
    close: async () => {
      await coordinator.onApplicationShutdown();
      await leader.resign();
      metrics.close();
    },
  };
}

describe('coordinator (memory adapters, the node its own leader)', () => {
  it('shedTarget: threshold minus the margin, else the links minus the margin, else an override', () => {
    const a = (threshold?: number) => ({ ...alert('n', 'firing'), threshold });
    assert.equal(shedTarget([a(1000)], 5000, { marginRatio: 0.1 }), 900);
    assert.equal(shedTarget([a(1000), a(800)], 5000, { marginRatio: 0.1 }), 720);
    assert.equal(shedTarget([a()], 2000, { marginRatio: 0.1 }), 1800);
    assert.equal(shedTarget([a(1000)], 2000, { marginRatio: 0.1, targetLinks: 50 }), 50);
  });

  it('a firing alert sheds its node to the threshold minus the margin; a repeat changes nothing; resolved sets it back to normal', async () => {
    const t = await setup();
    try {
      assert.equal(await t.store.recordAlert(alert('n1', 'firing', { threshold: 1000 })), 'recorded');
      const shed = await t.directive('n1', (d) => d.action === 'shed');
      assert.deepEqual(
        { ...shed, id: undefined, issuedAt: undefined },
        { id: undefined, issuedAt: undefined, action: 'shed', reason: 'alert', targetLinks: 900, by: 'leader-1' },
      );
      assert.equal(await t.store.recordAlert(alert('n1', 'firing', { threshold: 1000 })), 'repeat');
      // a second, different firing alert for the node while it sheds: no new directive either
      await t.store.recordAlert(alert('n1', 'firing', { alertname: 'fp2' }));
      await t.store.recordAlert(alert('n1', 'resolved', { threshold: 1000 }));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await t.store.directive('n1'))!.id, shed.id, 'another alert still fires: still shedding');
      await t.store.recordAlert(alert('n1', 'resolved', { alertname: 'fp2' }));
      const normal = await t.directive('n1', (d) => d.action === 'normal');
      assert.equal(normal.reason, 'alert');
      assert.notEqual(normal.id, shed.id);
      assert.equal((await t.metrics.directives.get()).values.find((v) => v.labels.action === 'shed')?.value, 1);
    } finally {
      await t.close();
    }
  });

  it('manual drain wins over alerts; undrain sets normal; shed takes its target; requests are deleted once acted on', async () => {
    const t = await setup();
    try {
      await t.store.recordRequest({ id: 'r1', nodeId: 'n2', kind: 'drain', at: 1, receivedBy: 'x' });
      const drain = await t.directive('n2', (d) => d.action === 'drain');
      assert.equal(drain.reason, 'manual');
      await t.store.recordAlert(alert('n2', 'resolved'));
      await t.store.recordAlert(alert('n2', 'firing', { alertname: 'fp3' }));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await t.store.directive('n2'))!.id, drain.id, 'alerts do not override a drain');
      await t.store.recordRequest({ id: 'r2', nodeId: 'n2', kind: 'undrain', at: 2, receivedBy: 'x' });
      const normal = await t.directive('n2', (d) => d.action === 'normal');
      assert.equal(normal.reason, 'manual');
      await t.store.recordRequest({ id: 'r3', nodeId: 'n1', kind: 'shed', targetLinks: 42, at: 3, receivedBy: 'x' });
      const shed = await t.directive('n1', (d) => d.action === 'shed');
      assert.deepEqual([shed.reason, shed.targetLinks], ['manual', 42]);
    } finally {
      await t.close();
    }
  });

  it('on taking the lead it acts on what was recorded while no node led', async () => {
    const { config: resolved } = loadConfig({ env: { GATEWAY_NODE_ID: 'late-leader', GATEWAY_REBALANCE_ENABLED: 'false' } });
    const config = GatewayConfig.from(resolved);
    const store = new MemoryControlStore();
    await store.recordAlert(alert('n1', 'firing'));
    await store.recordRequest({ id: 'r9', nodeId: 'n2', kind: 'shed', targetLinks: 7, at: 1, receivedBy: 'x' });
    const metrics = new GatewayMetrics();
    const leader = new LeaderService(config, new MemoryLeaderElection(), metrics);
    const coordinator = new CoordinatorService(config, leader, store, new FixedRegistry([info('n1', 2000), info('n2', 100)]), metrics);
    coordinator.onModuleInit();
    leader.start();
    try {
      const d1 = await until('n1 shed', () => store.directive('n1'));
      assert.deepEqual([d1.action, d1.reason, d1.targetLinks, d1.by], ['shed', 'alert', 1800, 'late-leader']);
      const d2 = await until('n2 shed', () => store.directive('n2'));
      assert.deepEqual([d2.action, d2.targetLinks], ['shed', 7]);
    } finally {
      await coordinator.onApplicationShutdown();
      await leader.resign();
      metrics.close();
    }
  });

  it('rebalances the fullest node toward the emptiest and ends the move once met', async () => {
    const t = await setup({ GATEWAY_REBALANCE_ENABLED: 'true', GATEWAY_REBALANCE_INTERVAL_MS: '10', GATEWAY_REBALANCE_FOR_MS: '30' });
    try {
      const move = await t.directive('n1', (d) => d.action === 'rebalance');
      assert.deepEqual([move.reason, move.targetLinks, move.toward], ['rebalance', 1050, ['n2']]);
      t.registry.nodes = [info('n1', 1050), info('n2', 1050)];
      const back = await t.directive('n1', (d) => d.action === 'normal');
      assert.equal(back.reason, 'rebalance');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await t.store.directive('n1'))!.id, back.id, 'within the threshold: no further move');
      assert.equal(await t.store.directive('n2'), undefined);
    } finally {
      await t.close();
    }
  });

  it('after a move ends, the next is planned only on loads every node published since', async () => {
    const t = await setup(
      { GATEWAY_REBALANCE_ENABLED: 'true', GATEWAY_REBALANCE_INTERVAL_MS: '10', GATEWAY_REBALANCE_FOR_MS: '1', GATEWAY_ETCD_LOAD_INTERVAL_MS: '60000' },
      [info('n1', 1500, 1), info('n2', 1500, 1), info('n3', 0, 1)],
    );
    try {
      const first = await t.directive('n1', (d) => d.action === 'rebalance');
      assert.deepEqual([first.targetLinks, first.toward], [1000, ['n3']]);
      // n1 published that it is done; n3 has not published the 500 links it got yet
      t.registry.nodes = [info('n1', 1000, 2), info('n2', 1500, 1), info('n3', 0, 1)];
      await t.directive('n1', (d) => d.action === 'normal');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await t.store.directive('n2'), undefined, 'planned on a load n3 published before the move');
      t.registry.nodes = [info('n1', 1000, 3), info('n2', 1500, 2), info('n3', 500, 2)];
      const second = await t.directive('n2', (d) => d.action === 'rebalance');
      assert.deepEqual([second.targetLinks, second.toward], [1000, ['n3']]);
    } finally {
      await t.close();
    }
  });
});
