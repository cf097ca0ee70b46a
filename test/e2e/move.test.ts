import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { controlKeys, controlPrefixOf, Directive } from '../../src/cluster/control';
import type { GatewayEvent } from '../../src/events/event.sink';
import { CloseCode } from '../../src/link/close-codes';
import { adminApi, AdminApi, metricValueOr, scrape } from '../fixtures/admin';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes, ETCD_ENDPOINT } from '../fixtures/infra';
import { assertShedRefusal, awaitMoved, finishStream, openMany, pushStream, PushStream, reconnectRate } from '../fixtures/push-stream';
import { hsToken } from '../fixtures/tokens';
import { FollowingClient, TestClient, upgradeRefusal } from '../fixtures/ws-client';

const H = { timeout: 60000 };
const BROKERS = ['127.0.0.1:9092'];
const MOVES_PER_SEC = 40;
const RETRY_AFTER_SEC = 7;

describe('moving links: shed, rebalance and drain, paced and spread, nothing lost (three nodes)', () => {
  const prefixes = uniquePrefixes('move');
  const eventsTopic = `e2e-move-events-${randomUUID().slice(0, 8)}`;
  const control = controlKeys(controlPrefixOf({ prefix: prefixes.GATEWAY_ETCD_PREFIX }));
  const env = {
    ...prefixes,
    GATEWAY_SHEDDING_MOVES_PER_SEC: String(MOVES_PER_SEC),
    GATEWAY_SHEDDING_RETRY_AFTER_SEC: String(RETRY_AFTER_SEC),
    GATEWAY_ETCD_LOAD_INTERVAL_MS: '500',
    GATEWAY_UPGRADER_RATE_PER_IP: '100000',
    GATEWAY_PUSH_EVENTS_TOPIC: eventsTopic,
    GATEWAY_LOG_LEVEL: 'info',
  };
  let a: GatewayProcess;
  let b: GatewayProcess;
  let c: GatewayProcess;
  let apiB: AdminApi;
  let etcd: Etcd3;
  let kafka: Kafka;
  let consumer: Consumer;
  const events: GatewayEvent[] = [];
  const clients: FollowingClient[] = [];
  const streams: PushStream[] = [];
  let seq = 0;

  async function direct(nodeId: string, d: Omit<Directive, 'id' | 'issuedAt' | 'by'>): Promise<void> {
    await etcd
      .put(control.directive(nodeId))
      .value(JSON.stringify({ id: `d${++seq}-${randomUUID().slice(0, 6)}`, issuedAt: Date.now(), by: 'the-test', ...d }));
  }
  const stateOf = async (node: GatewayProcess) => JSON.parse((await etcd.get(`${prefixes.GATEWAY_ETCD_PREFIX}${node.nodeId}`).string()) ?? '{}').state;

  before(async () => {
    etcd = new Etcd3({ hosts: ETCD_ENDPOINT, dialTimeout: 2000 });
    kafka = new Kafka({ brokers: BROKERS, clientId: 'e2e-move', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: eventsTopic, numPartitions: 1 }] });
    await admin.disconnect();
    consumer = kafka.consumer({ groupId: `${eventsTopic}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: eventsTopic, fromBeginning: true });
    void consumer.run({ eachMessage: async ({ message }) => void events.push(JSON.parse(String(message.value)) as GatewayEvent) });
    [a, b, c] = await Promise.all([startGateway(env), startGateway(env), startGateway(env)]);
    apiB = adminApi(b.adminUrl);
  }, H);

  after(async () => {
    await Promise.all(streams.map((s) => s.stop()));
    for (const cl of clients) cl.terminate();
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await consumer?.disconnect().catch(() => undefined);
    await etcd.delete().prefix(control.directives);
    etcd.close();
    await cleanupPrefixes(prefixes);
  }, H);

  it(
    'shed: A refuses new links with 503 + Retry-After + a peer, moves links to B and C at the configured pace with every push complete, in order, once; normal: A accepts again',
    H,
    async (t) => {
      const biz = `shed-${randomUUID().slice(0, 6)}`;
      const users = Array.from({ length: 100 }, (_, i) => `s${i}`);
      const mine = await openMany(a.wsUrl, biz, users, 20, 1);
      clients.push(...mine);
      assert.ok(mine.every((cl) => cl.node === a.nodeId));
      // a stream of pushes to every user of A, from B's API, running through the whole move
      const stream = pushStream(apiB, biz, users, 100);
      streams.push(stream);
      await eventually('two rounds before the move', async () => (stream.rounds >= 2 ? true : undefined), 10000);

      const target = 20;
      const movedAt = Date.now();
      await direct(a.nodeId, { action: 'shed', reason: 'manual', targetLinks: target });
      await eventually('A to publish shedding', async () => ((await stateOf(a)) === 'shedding' ? true : undefined), 5000);
      const refused = await upgradeRefusal(a.wsUrl, { token: hsToken({ sub: 'late', biz }) });
      assertShedRefusal(refused, RETRY_AFTER_SEC, [b, c]);
      assert.equal(refused.body.retryAfterSec, RETRY_AFTER_SEC);

      const moved = users.length - target;
      const hopped = await awaitMoved(mine, moved, MOVES_PER_SEC, `${moved} links to move`);
      for (const cl of hopped) {
        const [hop] = cl.hops;
        assert.equal(hop.reason, 'manual');
        assert.equal(hop.code, CloseCode.MOVED);
        assert.ok([b.nodeId, c.nodeId].includes(hop.to), `moved to ${hop.to}`);
      }
      // paced: the reconnects B and C saw came at about the configured rate, not in a burst
      const rate = reconnectRate(hopped.map((cl) => cl.hops[0].at));
      t.diagnostic(`shed: ${moved} moved, ${rate.perSec.toFixed(1)}/s over ${rate.spanMs} ms, peak ${rate.peak250} per 250 ms; per 250 ms: ${rate.histogram}`);
      assert.ok(
        rate.perSec > MOVES_PER_SEC * 0.5 && rate.perSec < MOVES_PER_SEC * 1.5,
        `reconnect rate ${rate.perSec.toFixed(1)}/s, configured ${MOVES_PER_SEC}/s`,
      );
      // 10 per 250 ms at 40/s; a loaded 2-core machine bunches a few windows, a burst would be all 80 at once
      assert.ok(rate.peak250 <= MOVES_PER_SEC * 0.25 * 3 + 2, `${rate.peak250} reconnects within 250 ms (per 250 ms: ${rate.histogram})`);
      // spread: both peers took a fair share (they start equally empty)
      const toB = hopped.filter((cl) => cl.hops[0].to === b.nodeId).length;
      assert.ok(toB >= moved * 0.3 && toB <= moved * 0.7, `${toB} of ${moved} went to B`);
      assert.ok(Date.now() - movedAt >= ((moved - 10) / MOVES_PER_SEC) * 1000, 'the move finished faster than its pace allows');

      const metrics = await scrape(a.adminUrl);
      assert.equal(metricValueOr(metrics, 'websocket_gateway_link_moves_total', { reason: 'manual' }, 0), moved);
      assert.equal(metricValueOr(metrics, 'websocket_gateway_node_shedding', {}, -1), 1);

      await finishStream(stream, mine);

      await eventually(
        'a moved event per moved link on gateway.events',
        async () => (events.filter((e) => e.type === 'moved' && e.bizId === biz).length >= moved ? true : undefined),
        15000,
      );
      const movedEvents = events.filter((e): e is Extract<GatewayEvent, { type: 'moved' }> => e.type === 'moved' && e.bizId === biz);
      assert.equal(movedEvents.length, moved);
      for (const e of movedEvents) {
        const cl = hopped.find((h) => h.label === e.userId)!;
        assert.ok(cl, `moved event of ${e.userId}, who did not move`);
        assert.deepEqual([e.from, e.node, e.to, e.reason], [a.nodeId, a.nodeId, cl.hops[0].to, 'manual']);
      }

      await direct(a.nodeId, { action: 'normal', reason: 'manual' });
      await eventually('A to publish running', async () => ((await stateOf(a)) === 'running' ? true : undefined), 5000);
      const { client, connected } = await TestClient.open(a.wsUrl, { token: hsToken({ sub: 'back', biz }) });
      assert.equal(connected.node, a.nodeId);
      client.terminate();
      assert.equal(metricValueOr(await scrape(a.adminUrl), 'websocket_gateway_node_shedding', {}, -1), 0);
      for (const cl of mine) await cl.close();
    },
  );

  it('rebalance: moves links toward the named node while still taking new ones; a malformed directive changes nothing', H, async () => {
    const biz = `rebal-${randomUUID().slice(0, 6)}`;
    const users = Array.from({ length: 30 }, (_, i) => `r${i}`);
    // whatever the test before left, A starts normal
    await etcd.delete().key(control.directive(a.nodeId));
    await eventually('A to publish running', async () => ((await stateOf(a)) === 'running' ? true : undefined), 5000);
    const mine = await openMany(a.wsUrl, biz, users, 10, 3);
    clients.push(...mine);
    await etcd.put(control.directive(a.nodeId)).value('{"action":"shed"');
    await direct(a.nodeId, { action: 'rebalance', reason: 'rebalance', targetLinks: 20, toward: [c.nodeId] });
    await eventually('10 links to move', async () => (mine.filter((cl) => cl.hops.length > 0).length >= 10 ? true : undefined), 15000, 100);
    const hopped = mine.filter((cl) => cl.hops.length > 0);
    assert.equal(hopped.length, 10);
    assert.deepEqual(new Set(hopped.map((cl) => cl.hops[0].to)), new Set([c.nodeId]), 'moved elsewhere than toward C');
    assert.ok(hopped.every((cl) => cl.hops[0].reason === 'rebalance' && cl.hops[0].code === CloseCode.MOVED));
    assert.equal(await stateOf(a), 'running');
    const { client, connected } = await TestClient.open(a.wsUrl, { token: hsToken({ sub: 'new', biz }) });
    assert.equal(connected.node, a.nodeId, 'a rebalancing node refused a new link');
    client.terminate();
    // a malformed value is ignored: the node keeps its last directive and keeps serving
    await etcd.put(control.directive(a.nodeId)).value('not json at all');
    const again = await TestClient.open(a.wsUrl, { token: hsToken({ sub: 'new2', biz }) });
    again.client.terminate();
    assert.ok(a.logs.some((l) => l.includes('ignoring a directive that is not a Directive')));
    await etcd.delete().key(control.directive(a.nodeId));
    for (const cl of mine) await cl.close();
  });

  it(
    'SIGTERM with 2,000 links: redirects spread over the drain window and over the peers, every client resumes with nothing lost, the node exits in time',
    { timeout: 120000 },
    async (t) => {
      const drainMs = 10000;
      await etcd.delete().key(control.directive(a.nodeId));
      await eventually('A to publish running', async () => ((await stateOf(a)) === 'running' ? true : undefined), 5000);
      const d = await startGateway({ ...env, GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: String(drainMs), GATEWAY_SHEDDING_MOVES_PER_SEC: '50' });
      let stream: PushStream | undefined;
      try {
        const biz = `drain-${randomUUID().slice(0, 6)}`;
        const users = Array.from({ length: 2000 }, (_, i) => `d${i}`);
        const mine = await openMany(d.wsUrl, biz, users, 50, 10);
        clients.push(...mine);
        const streamed = users.slice(0, 200);
        const live = pushStream(apiB, biz, streamed, 250);
        stream = live;
        await eventually('two rounds before the drain', async () => (live.rounds >= 2 ? true : undefined), 10000);
        const signalled = Date.now();
        const exited = d.stop('SIGTERM', drainMs + 10000);
        await eventually(
          'every client to resume on a peer',
          async () => (mine.every((cl) => cl.hops.length === 1 || cl.ended) ? true : undefined),
          drainMs + 10000,
          100,
        );
        const exit = await exited;
        const tookMs = Date.now() - signalled;
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.ok(tookMs < drainMs + 5000, `exited ${tookMs} ms after SIGTERM`);
        const lost = mine.filter((cl) => cl.hops.length !== 1);
        assert.deepEqual(
          lost.slice(0, 3).map((cl) => cl.ended),
          [],
          `${lost.length} clients did not resume`,
        );
        const peers = [a.nodeId, b.nodeId, c.nodeId];
        const per = Object.fromEntries(peers.map((p) => [p, mine.filter((cl) => cl.hops[0].to === p).length]));
        for (const p of peers) assert.ok(per[p] >= 2000 * 0.15, `spread over the peers: ${JSON.stringify(per)}`);
        assert.ok(mine.every((cl) => cl.hops[0].code === CloseCode.GOING_AWAY && cl.hops[0].reason === 'shutdown'));
        // 2,000 links over 80% of the window: ~250/s for ~8 s, not one burst
        const rate = reconnectRate(mine.map((cl) => cl.hops[0].at));
        t.diagnostic(
          `drain: exit after ${tookMs} ms, ${rate.perSec.toFixed(0)}/s over ${rate.spanMs} ms, peak ${rate.peak250} per 250 ms, per peer ${JSON.stringify(per)}`,
        );
        assert.ok(rate.spanMs >= drainMs * 0.8 * 0.6, `the reconnects came within ${rate.spanMs} ms`);
        assert.ok(rate.peak250 <= 250 * 0.25 * 3, `${rate.peak250} reconnects within 250 ms (rate ${rate.perSec.toFixed(0)}/s; per 250 ms: ${rate.histogram})`);
        await finishStream(live, mine.slice(0, streamed.length));
        for (const cl of mine) cl.terminate();
      } finally {
        await stream?.stop();
        await d.stop('SIGKILL');
      }
    },
  );
});
