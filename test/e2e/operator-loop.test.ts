import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/link/close-codes';
import { adminApi, metricValue, scrape } from '../fixtures/admin';
import { controlSpace } from '../fixtures/control';
import { ADMIN_TOKEN, eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { Alertmanager, OVERLOAD_ALERT, Prometheus, useAlertmanager, usePrometheus } from '../fixtures/monitoring';
import { assertShedRefusal, awaitMoved, finishStream, openMany, pushStream, PushStream, reconnectRate } from '../fixtures/push-stream';
import { hsToken } from '../fixtures/tokens';
import { FollowingClient, TestClient, upgradeRefusal } from '../fixtures/ws-client';

const WEBHOOK_TOKEN = 'e2e-webhook-token-0123456789abcdef';
const TTL_SEC = 3;

interface NodeItem {
  id: string;
  online: number;
  state: string;
}

/** each node's links as the registry (etcd) has them, by node id */
async function loads(via: GatewayProcess): Promise<Map<string, number>> {
  const r = await adminApi(via.adminUrl).get('/api/nodes');
  assert.equal(r.status, 200, r.text);
  return new Map((r.body.items as NodeItem[]).map((n) => [n.id, n.online]));
}

/** the node every one of `nodes` names as the leader, once they agree */
async function agreedLeader(nodes: GatewayProcess[], timeoutMs = 15000): Promise<string> {
  return eventually(
    'the nodes to agree on one leader',
    async () => {
      const seen = await Promise.all(nodes.map(async (n) => (await adminApi(n.adminUrl).get('/api/nodes')).body.leader as string | null));
      return seen[0] && seen.every((s) => s === seen[0]) && nodes.some((n) => n.nodeId === seen[0]) ? seen[0] : undefined;
    },
    timeoutMs,
    100,
  );
}

/**
 * The operator loop of issue 11 with every part in it: gateway nodes registered in etcd, one of
 * them leading, Prometheus (the real one of scripts/deps.sh) finding them through /api/sd and
 * evaluating the shipped GatewayNodeOverloaded rule, Alertmanager posting to a node's real
 * /webhook/v1 with the bearer, the leader's directives, the nodes' paced moves, and
 * FollowingClients that follow redirects with ?resume= while pushes stream to them. A second
 * suite scales two loaded nodes out to three and watches the leader even the loads out.
 *
 * The tests that use the one Prometheus and Alertmanager must not run beside each other: they
 * are here and in monitoring.test.ts, and scripts/run-tests.js runs files one at a time.
 */
describe('the operator loop: Prometheus alert -> Alertmanager -> webhook -> leader -> shed -> resolved, nothing lost (three nodes)', () => {
  const prefixes = uniquePrefixes('oploop');
  const control = controlSpace(prefixes.GATEWAY_ETCD_PREFIX);
  /** the rule's threshold for this test: more online users than this on one node fires it */
  const THRESHOLD = 30;
  /** docs/architecture.md: shed to floor(threshold x (1 - shedding.marginRatio)), the margin 0.1 by default */
  const TARGET = Math.floor(THRESHOLD * 0.9);
  const ON_A = 60;
  const MOVES_PER_SEC = 20;
  const RETRY_AFTER_SEC = 4;
  const env = {
    ...prefixes,
    GATEWAY_MODE: 'cluster',
    GATEWAY_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    GATEWAY_ETCD_LEASE_TTL_SEC: String(TTL_SEC),
    GATEWAY_ETCD_LOAD_INTERVAL_MS: '500',
    // rebalancing stays out of this test's way: no spread is ever as large as this
    GATEWAY_REBALANCE_MIN_LINKS: '1000000',
    // slow enough that the refusal is seen while links are still moving, fast enough for the test
    GATEWAY_SHEDDING_MOVES_PER_SEC: String(MOVES_PER_SEC),
    GATEWAY_SHEDDING_RETRY_AFTER_SEC: String(RETRY_AFTER_SEC),
    GATEWAY_UPGRADER_RATE_PER_IP: '100000',
    GATEWAY_PUSH_CONSUME: 'false',
    GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '2000',
  };
  let a: GatewayProcess;
  let b: GatewayProcess;
  let c: GatewayProcess;
  let prom: Prometheus | undefined;
  let am: Alertmanager | undefined;
  const clients: FollowingClient[] = [];
  const streams: PushStream[] = [];
  const instance = (n: GatewayProcess) => `127.0.0.1:${n.governancePort}`;
  const stateOf = async (n: GatewayProcess) => JSON.parse((await control.etcd.get(`${prefixes.GATEWAY_ETCD_PREFIX}${n.nodeId}`).string()) ?? '{}').state;

  before(
    async () => {
      [a, b, c] = await Promise.all([startGateway(env), startGateway(env), startGateway(env)]);
    },
    { timeout: 60000 },
  );

  after(
    async () => {
      await Promise.all(streams.map((s) => s.stop()));
      for (const cl of clients) cl.terminate();
      await Promise.allSettled([prom?.reset(), am?.reset()]);
      await Promise.all([a, b, c].map((n) => n?.stop('SIGKILL')));
      await control.close();
      await cleanupPrefixes(prefixes);
    },
    { timeout: 60000 },
  );

  it(
    `A past the threshold (${ON_A} users, threshold ${THRESHOLD}): firing -> shed to ${TARGET} over B and C with 503s meanwhile; the stream to A's users arrives complete, in order, once; resolved -> A accepts again`,
    { timeout: 120000 },
    async (t) => {
      const leader = await agreedLeader([a, b, c]);
      const biz = `oploop-${randomUUID().slice(0, 6)}`;
      const users = Array.from({ length: ON_A }, (_, i) => `a${i}`);
      const mine = await openMany(a.wsUrl, biz, users, 20, 1);
      clients.push(...mine);
      assert.ok(
        mine.every((cl) => cl.node === a.nodeId),
        'every user of A is on A',
      );
      // a few users on B and C, under the threshold
      const others = [...(await openMany(b.wsUrl, biz, ['b0', 'b1', 'b2'], 3, 5)), ...(await openMany(c.wsUrl, biz, ['c0', 'c1', 'c2'], 3, 6))];
      clients.push(...others);

      // the stream runs before the alert exists, through the move, and after it resolved
      const stream = pushStream(adminApi(c.adminUrl), biz, users, 200);
      streams.push(stream);
      await eventually('two rounds before any alert', async () => (stream.rounds >= 2 ? true : undefined), 10000);
      assert.equal(await control.directive(a.nodeId), undefined, 'A had a directive before any alert');

      // Prometheus finds the nodes through C's /api/sd; Alertmanager posts to B's webhook (not A's: an alert may land anywhere)
      prom = await usePrometheus({ sdUrl: `${c.adminUrl}/api/sd`, bearer: ADMIN_TOKEN, threshold: THRESHOLD, forSec: 0 });
      am = await useAlertmanager({ webhookUrl: `${b.adminUrl}/webhook/v1`, bearer: WEBHOOK_TOKEN });
      const alertStarted = Date.now();
      await prom.awaitTargets('the three nodes scraped', (ts) => {
        const up = ts.filter((x) => x.health === 'up' && [a.nodeId, b.nodeId, c.nodeId].includes(x.labels.node));
        return up.length === 3 ? up : undefined;
      });

      const alert = await prom.awaitAlert(OVERLOAD_ALERT, 'firing', { instance: instance(a) }, 20000);
      assert.equal(alert.annotations.threshold, String(THRESHOLD), 'the rule carries the test threshold as its annotation');
      const firedAt = Date.now();
      const shed = await control.directiveWhere(a.nodeId, (d) => d.action === 'shed', 20000);
      const shedAt = Date.now();
      assert.deepEqual([shed.reason, shed.targetLinks, shed.by], ['alert', TARGET, leader], JSON.stringify(shed));
      const records = await control.alerts(a.nodeId);
      const firing = records.find((r) => r.status === 'firing');
      assert.ok(firing, `no firing record for A: ${JSON.stringify(records)}`);
      assert.deepEqual(
        [firing.alertname, firing.source, firing.threshold, firing.instance, firing.receivedBy],
        [OVERLOAD_ALERT, 'alertmanager', THRESHOLD, instance(a), b.nodeId],
      );
      // no other node was ever named
      for (const n of [b, c]) assert.deepEqual(await control.alerts(n.nodeId), [], `an alert named ${n.nodeId}`);

      // while A sheds, a new upgrade is refused with Retry-After and a peer to go to
      await eventually('A to publish shedding', async () => ((await stateOf(a)) === 'shedding' ? true : undefined), 5000);
      const refused = await upgradeRefusal(a.wsUrl, { token: hsToken({ sub: 'late', biz }) });
      const movedWhenRefused = mine.filter((cl) => cl.hops.length > 0).length;
      assertShedRefusal(refused, RETRY_AFTER_SEC, [b, c]);

      const moved = ON_A - TARGET;
      const hopped = await awaitMoved(mine, moved, MOVES_PER_SEC, `${moved} of A's links to move`);
      for (const cl of hopped) {
        const [hop] = cl.hops;
        assert.deepEqual([hop.from, hop.reason, hop.code], [a.nodeId, 'alert', CloseCode.MOVED]);
        assert.ok([b.nodeId, c.nodeId].includes(hop.to), `moved to ${hop.to}`);
        assert.equal(cl.node, hop.to);
        assert.match(hop.resume, /^.+:\d+$/, `${cl.label} resumed without a cursor although pushes were streaming`);
      }
      const toB = hopped.filter((cl) => cl.hops[0].to === b.nodeId).length;
      assert.ok(toB >= moved * 0.3 && toB <= moved * 0.7, `spread over B and C: ${toB} of ${moved} went to B`);
      const rate = reconnectRate(hopped.map((cl) => cl.hops[0].at));
      const movesDoneAt = Date.now();

      // under the threshold now: Prometheus resolves, Alertmanager posts resolved, the leader lets A take links again
      const left = await eventually(
        `A's online users to fall to ${TARGET}`,
        async () => {
          const v = metricValue(await scrape(a.adminUrl), 'websocket_gateway_online_users');
          return v <= TARGET ? v : undefined;
        },
        5000,
      );
      assert.equal(left, TARGET);
      await eventually(
        `Prometheus to stop firing for ${instance(a)}`,
        async () => ((await prom!.alerts()).some((x) => x.labels.alertname === OVERLOAD_ALERT && x.labels.instance === instance(a)) ? undefined : true),
        20000,
        200,
      );
      const normal = await control.directiveWhere(a.nodeId, (d) => d.action === 'normal', 20000);
      const normalAt = Date.now();
      assert.deepEqual([normal.reason, normal.by], ['alert', leader]);
      const resolved = (await control.alerts(a.nodeId)).find((r) => r.status === 'resolved');
      assert.ok(resolved, 'no resolved record for A');
      assert.deepEqual([resolved.receivedBy, resolved.instance, resolved.startsAt], [b.nodeId, instance(a), firing.startsAt]);
      await eventually('A to publish running', async () => ((await stateOf(a)) === 'running' ? true : undefined), 5000);
      const back = await TestClient.open(a.wsUrl, { token: hsToken({ sub: 'back', biz }) });
      assert.equal(back.connected.node, a.nodeId, 'A did not take a new link after resolved');
      back.client.terminate();
      const metrics = await scrape(a.adminUrl);
      assert.equal(metricValue(metrics, 'websocket_gateway_link_moves_total', { reason: 'alert' }), moved);
      assert.equal(metricValue(metrics, 'websocket_gateway_node_shedding'), 0);

      // a couple more rounds after the move, then every user has every round, in order, once
      const after = stream.rounds + 2;
      await eventually('two rounds after A accepts again', async () => (stream.rounds >= after ? true : undefined), 10000);
      const rounds = await finishStream(stream, mine);
      assert.ok(
        others.every((cl) => cl.hops.length === 0 && cl.pushes.length === 0),
        'B and C kept their own users',
      );
      t.diagnostic(
        `alert: firing ${firedAt - alertStarted} ms after Prometheus was pointed at the nodes, shed directive ${shedAt - firedAt} ms later; ` +
          `${moved} moved (${toB} to B) at ${rate.perSec.toFixed(1)}/s over ${rate.spanMs} ms (${movedWhenRefused} moved when the 503 was seen); ` +
          `normal ${normalAt - movesDoneAt} ms after the last move; ${rounds} rounds x ${ON_A} users = ${rounds * ON_A} pushes, none lost or repeated`,
      );
      for (const cl of [...mine, ...others]) await cl.close();
    },
  );
});

describe('scale-out: 3,000 links on two nodes, a third joins, the leader evens the loads out live, nothing lost', () => {
  const prefixes = uniquePrefixes('scaleout');
  const control = controlSpace(prefixes.GATEWAY_ETCD_PREFIX);
  const LINKS = 3000;
  const SAMPLE = 300;
  const RATIO = 0.2;
  const MIN_LINKS = 100;
  const MOVES_PER_SEC = 300;
  const env = {
    ...prefixes,
    GATEWAY_MODE: 'cluster',
    GATEWAY_ETCD_LEASE_TTL_SEC: String(TTL_SEC),
    GATEWAY_ETCD_LOAD_INTERVAL_MS: '500',
    GATEWAY_REBALANCE_ENABLED: 'true',
    GATEWAY_REBALANCE_THRESHOLD_RATIO: String(RATIO),
    GATEWAY_REBALANCE_MIN_LINKS: String(MIN_LINKS),
    GATEWAY_REBALANCE_SETTLE_MS: '1000',
    GATEWAY_REBALANCE_FOR_MS: '2000',
    GATEWAY_REBALANCE_INTERVAL_MS: '500',
    GATEWAY_SHEDDING_MOVES_PER_SEC: String(MOVES_PER_SEC),
    GATEWAY_UPGRADER_RATE_PER_IP: '100000',
    GATEWAY_PUSH_CONSUME: 'false',
    GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '2000',
  };
  const nodes: GatewayProcess[] = [];
  const clients: FollowingClient[] = [];
  let stream: PushStream | undefined;

  after(
    async () => {
      await stream?.stop();
      for (const cl of clients) cl.terminate();
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      await control.close();
      await cleanupPrefixes(prefixes);
    },
    { timeout: 60000 },
  );

  it(
    `${LINKS} links on A and B, C joins: loads end within max(${RATIO} x mean, ${MIN_LINKS}), every moved client resumed on C, a stream to ${SAMPLE} users complete, in order, once`,
    { timeout: 150000 },
    async (t) => {
      const [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
      nodes.push(a, b);
      const biz = `scale-${randomUUID().slice(0, 6)}`;
      const users = Array.from({ length: LINKS }, (_, i) => `u${i}`);
      // alternately on A and B, so the two stay level while they fill (no spread for the leader to act on)
      const openedAt = Date.now();
      const all = await openMany((i) => (i % 2 ? b.wsUrl : a.wsUrl), biz, users, 50, 10);
      clients.push(...all);
      const openMs = Date.now() - openedAt;
      let filled: Map<string, number> = new Map();
      await eventually(
        `${LINKS / 2} links on each of A and B in the registry`,
        async () => {
          filled = await loads(a);
          return filled.get(a.nodeId) === LINKS / 2 && filled.get(b.nodeId) === LINKS / 2 ? true : undefined;
        },
        10000,
        100,
      ).catch((err: Error) => {
        // what the registry and the clients saw, so a miss says which side is off
        const ended = all.filter((cl) => cl.ended).map((cl) => `${cl.label}: ${cl.ended!.code} ${cl.ended!.reason}`);
        throw new Error(
          `${err.message}; registry A ${filled.get(a.nodeId)} B ${filled.get(b.nodeId)}; clients on A ${all.filter((cl) => cl.node === a.nodeId).length}, on B ${all.filter((cl) => cl.node === b.nodeId).length}, moved ${all.filter((cl) => cl.hops.length > 0).length}, ended ${ended.length} (${ended.slice(0, 5).join('; ')})`,
        );
      });
      assert.equal(all.filter((cl) => cl.hops.length > 0).length, 0, 'links moved between A and B before C joined');

      // the sample: every tenth user, half on A, half on B (the movers take the oldest links first, so it holds moved and unmoved users)
      const every = LINKS / SAMPLE;
      const sample = all.filter((_, i) => i % every === 0);
      stream = pushStream(
        adminApi(a.adminUrl),
        biz,
        users.filter((_, i) => i % every === 0),
        250,
      );
      const live = stream;
      await eventually('two rounds before C joins', async () => (live.rounds >= 2 ? true : undefined), 10000);

      const c = await startGateway(env);
      nodes.push(c);
      const joinedAt = Date.now();
      const allowedOf = (l: number[]) => Math.max((RATIO * l.reduce((s, x) => s + x, 0)) / l.length, MIN_LINKS);
      let last: Map<string, number> = new Map();
      const final = await eventually(
        'the loads within the threshold, no rebalance in flight',
        async () => {
          last = await loads(a);
          const l = [a, b, c].map((n) => last.get(n.nodeId) ?? -1);
          if (l.some((x) => x < 0) || l.reduce((s, x) => s + x, 0) !== LINKS) return undefined;
          if (Math.max(...l) - Math.min(...l) > allowedOf(l)) return undefined;
          const ds = await Promise.all([a, b, c].map((n) => control.directive(n.nodeId)));
          if (ds.some((d) => d?.action === 'rebalance')) return undefined;
          // every link the registry counts on C is a client that arrived there
          return all.filter((cl) => cl.node === c.nodeId).length === last.get(c.nodeId) ? l : undefined;
        },
        90000,
        100,
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}; last loads ${JSON.stringify([...last])}, leader log: ${nodes.flatMap((n) => n.logs.filter((x) => /rebalanc/.test(x))).join('\n')}`,
        );
      });
      const balancedMs = Date.now() - joinedAt;
      const name = (id: string) => (id === a.nodeId ? 'A' : id === b.nodeId ? 'B' : id === c.nodeId ? 'C' : id);
      // what the leader decided, from its log (diagnostics only)
      const rebalances = nodes
        .flatMap((n) => n.logs.filter((x) => x.includes('"msg":"rebalancing"')))
        .map((x) => {
          const j = JSON.parse(x);
          return `${name(j.node)}->${j.targetLinks} toward ${(j.toward as string[]).map(name).join('+')} (${j.trigger})`;
        });

      const hopped = all.filter((cl) => cl.hops.length > 0);
      const flows: Record<string, number> = {};
      for (const cl of hopped) for (const h of cl.hops) flows[`${name(h.from)}->${name(h.to)}`] = (flows[`${name(h.from)}->${name(h.to)}`] ?? 0) + 1;
      const story = `loads ${JSON.stringify(final)}, moves ${JSON.stringify(flows)}, decisions ${rebalances.join(', ')}`;
      assert.equal(hopped.length, final[2], `every link on C came from a moved client (${story})`);
      for (const cl of hopped) {
        assert.equal(cl.hops.length, 1, `${cl.label} hops ${JSON.stringify(cl.hops)} (${story})`);
        const [hop] = cl.hops;
        assert.ok([a.nodeId, b.nodeId].includes(hop.from), `${cl.label} moved from ${hop.from}`);
        assert.deepEqual(
          [hop.to, hop.reason, hop.code, cl.node],
          [c.nodeId, 'rebalance', CloseCode.MOVED, c.nodeId],
          `${cl.label}: ${JSON.stringify(hop)} (${story})`,
        );
        assert.ok(!cl.ended, `${cl.label} ended: ${JSON.stringify(cl.ended)}`);
      }
      assert.ok(
        all.every((cl) => !cl.ended),
        'a client ended',
      );
      const fromA = hopped.filter((cl) => cl.hops[0].from === a.nodeId).length;
      const movedSample = sample.filter((cl) => cl.hops.length > 0);
      assert.ok(movedSample.length > 0 && movedSample.length < sample.length, `${movedSample.length} of the ${sample.length} users of the sample moved`);
      for (const cl of movedSample) assert.match(cl.hops[0].resume, /^.+:\d+$/, `${cl.label} resumed without a cursor`);
      const rate = reconnectRate(hopped.map((cl) => cl.hops[0].at));
      const firstHop = Math.min(...hopped.map((cl) => cl.hops[0].at));
      const lastHop = Math.max(...hopped.map((cl) => cl.hops[0].at));
      // the pace holds: C never saw a storm (300/s is 75 per 250 ms; a loaded machine bunches a few windows)
      assert.ok(rate.peak250 <= MOVES_PER_SEC * 0.25 * 3, `${rate.peak250} reconnects within 250 ms (per 250 ms: ${rate.histogram})`);

      const after = live.rounds + 2;
      await eventually('two rounds after the loads evened out', async () => (live.rounds >= after ? true : undefined), 10000);
      const rounds = await finishStream(live, sample, 20000);
      t.diagnostic(
        `scale-out: ${LINKS} opened in ${openMs} ms; C joined, loads [A, B, C] ${JSON.stringify(final)} ${balancedMs} ms later ` +
          `(first move ${firstHop - joinedAt} ms after the join, moves ${rebalances.join(', ')}); ` +
          `${hopped.length} moved (${fromA} from A) over ${lastHop - firstHop} ms, C saw ${rate.perSec.toFixed(0)} reconnects/s, peak ${rate.peak250} per 250 ms (per 250 ms: ${rate.histogram}); ` +
          `${rounds} rounds x ${SAMPLE} users = ${rounds * SAMPLE} pushes (${movedSample.length} of the sample moved), none lost or repeated`,
      );
    },
  );
});
