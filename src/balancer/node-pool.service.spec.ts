import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import type { NodeInfo } from '../cluster/node-registry';
import { GatewayConfig } from '../config/gateway.config';
import { loadConfig } from '../config/config.loader';
import { MemoryNodeWatch } from '../infra/memory/memory-node.watch';
import { BalancerMetrics } from './balancer.metrics';
import { NodePool } from './node-pool.service';
import { NodeProbe, ProbeResult } from './node-probe';

/** answers each probe with what the test set for the node's adminUrl (default ok) */
class ScriptedProbe extends NodeProbe {
  readonly answers = new Map<string, ProbeResult>();
  readonly asked: string[] = [];
  async probe(adminUrl: string): Promise<ProbeResult> {
    this.asked.push(adminUrl);
    return this.answers.get(adminUrl) ?? { ok: true };
  }
}

const node = (id: string, over: Partial<NodeInfo> = {}): NodeInfo => ({
  id,
  wsUrl: `ws://127.0.0.1:1/${id}`,
  adminUrl: `http://${id}`,
  online: 0,
  users: 0,
  capacity: 100,
  state: 'running',
  startedAt: 1,
  updatedAt: 1,
  ...over,
});

const settle = () => new Promise((r) => setImmediate(r));

describe('NodePool', () => {
  let pool: NodePool | undefined;
  afterEach(async () => {
    await pool?.onApplicationShutdown();
    pool = undefined;
  });

  async function make(strategy = 'least_conn') {
    const env = {
      GATEWAY_MODE: 'cluster',
      GATEWAY_ROLE: 'balancer',
      GATEWAY_JWT_SECRET: 'unit-secret-0123456789',
      GATEWAY_ADMIN_TOKEN: 'unit-admin-0123456789',
      GATEWAY_BALANCER_STRATEGY: strategy,
      // no timed probes: each test drives them
      GATEWAY_BALANCER_CHECK_INTERVAL_MS: '3600000',
    };
    const config = GatewayConfig.from(loadConfig({ cwd: '/', env }).config);
    const watch = new MemoryNodeWatch();
    const probe = new ScriptedProbe();
    pool = new NodePool(config, watch, probe, new BalancerMetrics());
    await pool.onModuleInit();
    return { pool, watch, probe };
  }

  it('a registered node is a candidate from its first passing probe, and only while running', async () => {
    const { pool, watch, probe } = await make();
    probe.answers.set('http://b', { ok: false, reachable: true, error: 'not ready' });
    watch.set([node('a'), node('b'), node('c', { state: 'draining' })]);
    await settle();
    assert.deepEqual(probe.asked.sort(), ['http://a', 'http://b', 'http://c'], 'each new node is probed at once');
    assert.deepEqual(
      pool.candidates('u').map((n) => n.id),
      ['a'],
    );
    assert.equal(pool.get('b')!.lastError, 'not ready');
  });

  it('an unreachable node is out at once and its links are to be closed; not-ready closes nothing', async () => {
    const { pool, watch, probe } = await make();
    const closed: string[] = [];
    pool.onUnreachable((id) => closed.push(id));
    watch.set([node('a'), node('b')]);
    await settle();
    pool.reportUnreachable('a', 'ECONNREFUSED');
    assert.deepEqual(
      pool.candidates('u').map((n) => n.id),
      ['b'],
    );
    assert.deepEqual(closed, ['a']);
    probe.answers.set('http://b', { ok: false, reachable: true, error: '503' });
    watch.set([node('a'), node('b'), node('n')]);
    await settle();
    assert.deepEqual(closed, ['a']);
  });

  it('least_conn counts the links it sent until the node reports its load again', async () => {
    const { pool, watch } = await make('least_conn');
    watch.set([node('a', { online: 10 }), node('b', { online: 12 })]);
    await settle();
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const first = pool.candidates('u')[0].id;
      picks.push(first);
      pool.routed(first);
    }
    // a: 10,11,12 then alternate with b: the sent links count as load before any report
    assert.deepEqual(picks, ['a', 'a', 'a', 'b', 'a', 'b']);
    // a fresh report (new updatedAt) replaces the estimate
    watch.set([node('a', { online: 30, updatedAt: 2 }), node('b', { online: 14, updatedAt: 2 })]);
    assert.equal(pool.candidates('u')[0].id, 'b');
  });

  it('a node whose registration ends stays listed as gone, and comes back as new', async () => {
    const { pool, watch } = await make();
    watch.set([node('a'), node('b')]);
    await settle();
    watch.set([node('a')]);
    assert.deepEqual(
      pool.all().map((n) => n.info.id),
      ['a'],
    );
    const gone = pool.recentlyGone();
    assert.deepEqual(
      gone.map((n) => [n.info.id, n.healthy]),
      [['b', false]],
    );
    assert.equal(pool.recentlyGone(Date.now() + 61_000).length, 0, 'forgotten after a minute');
    watch.set([node('a'), node('b')]);
    await settle();
    assert.deepEqual(
      pool
        .candidates('u')
        .map((n) => n.id)
        .sort(),
      ['a', 'b'],
    );
  });
});
