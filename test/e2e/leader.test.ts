import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi, metricValue, scrape } from '../fixtures/admin';
import { alertmanagerBody } from '../fixtures/alert-payloads';
import { controlSpace, postWebhook } from '../fixtures/control';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 40000 };
const H = { timeout: 60000 };
const TTL_SEC = 3;
const TOKEN = 'e2e-webhook-token-0123456789';

/** who `node` says leads, once /api/nodes answers */
async function leaderSeenBy(node: GatewayProcess): Promise<string | null> {
  const r = await adminApi(node.adminUrl).get('/api/nodes');
  assert.equal(r.status, 200, r.text);
  const items = r.body.items as { id: string; leader: boolean }[];
  const flagged = items.filter((n) => n.leader).map((n) => n.id);
  assert.deepEqual(flagged, items.some((n) => n.id === r.body.leader) ? [r.body.leader] : [], 'the leader flag and the top-level leader agree');
  return r.body.leader;
}

/** the leader all of `nodes` agree on, once they do; on a timeout the error says what each saw, with their warnings */
async function agreedLeader(nodes: GatewayProcess[], timeoutMs = 10000): Promise<string> {
  let seen: (string | null)[] = [];
  try {
    return await eventually(
      'the nodes to agree on one leader',
      async () => {
        seen = await Promise.all(nodes.map(leaderSeenBy));
        return seen[0] && seen.every((s) => s === seen[0]) && nodes.some((n) => n.nodeId === seen[0]) ? seen[0] : undefined;
      },
      timeoutMs,
      25,
    );
  } catch (err) {
    const views = nodes.map((n, i) => `${n.nodeId} sees ${seen[i]}`).join('; ');
    const warnings = nodes.flatMap((n) => n.logs.filter((l) => /"level":(40|50)/.test(l)).slice(-5));
    throw new Error(`${(err as Error).message} (${views})\n${warnings.join('\n')}`);
  }
}

/**
 * Three cluster nodes campaigning with etcd3's election on a short lease (etcd.leaseTtlSec = 3):
 * one leads; killed with SIGKILL, another leads within the lease TTL, and an alert posted to a
 * surviving non-leader meanwhile (while no node leads) is acted on; a SIGTERM'd leader resigns
 * and hands over at once.
 */
describe('leader election: one leader, failover within the lease TTL, alerts during the gap (three cluster nodes)', () => {
  const prefixes = uniquePrefixes('leader');
  const control = controlSpace(prefixes.GATEWAY_ETCD_PREFIX);
  const env = {
    ...prefixes,
    GATEWAY_ETCD_LEASE_TTL_SEC: String(TTL_SEC),
    GATEWAY_PUSH_CONSUME: 'false',
    GATEWAY_REBALANCE_ENABLED: 'false',
    GATEWAY_WEBHOOK_TOKEN: TOKEN,
    GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '2000',
  };
  let nodes: GatewayProcess[] = [];

  before(async () => {
    nodes = await Promise.all([startGateway(env), startGateway(env), startGateway(env)]);
  }, H);
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await control.close();
    await cleanupPrefixes(prefixes);
  }, H);

  it('exactly one node leads: every node names it in /api/nodes and only it has websocket_gateway_leader 1', T, async () => {
    const leader = await agreedLeader(nodes);
    const want = nodes.map((n) => (n.nodeId === leader ? 1 : 0));
    // the observer may name the leader a moment before its campaign hears it was elected
    const gauges = await eventually('the leader gauges', async () => {
      const g = await Promise.all(nodes.map(async (n) => metricValue(await scrape(n.adminUrl), 'websocket_gateway_leader')));
      return g.join() === want.join() ? g : undefined;
    }).catch(async () => Promise.all(nodes.map(async (n) => metricValue(await scrape(n.adminUrl), 'websocket_gateway_leader'))));
    assert.deepEqual(gauges, want);
  });

  it('SIGKILL the leader: an alert posted to a survivor meanwhile is acted on, and another node leads within the lease TTL', T, async () => {
    const leaderId = await agreedLeader(nodes);
    const old = nodes.find((n) => n.nodeId === leaderId)!;
    const survivors = nodes.filter((n) => n !== old);
    const [receiver, target] = survivors;
    const killedAt = Date.now();
    await old.stop('SIGKILL');
    // at once, while the dead leader's lease still holds the election: no node leads
    const r = await postWebhook(receiver.adminUrl, alertmanagerBody([{ labels: { node: target.nodeId }, annotations: { threshold: '2000' } }]), {
      Authorization: `Bearer ${TOKEN}`,
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.recorded.map((x: { node: string; result: string }) => [x.node, x.result]),
      [[target.nodeId, 'recorded']],
    );
    assert.equal(await control.directive(target.nodeId), undefined, 'no directive yet: the dead node led');
    const next = await agreedLeader(survivors, (TTL_SEC + 3) * 1000);
    const tookMs = Date.now() - killedAt;
    assert.notEqual(next, leaderId);
    assert.ok(tookMs <= TTL_SEC * 1000 + 1500, `a new leader after ${tookMs} ms, more than the ${TTL_SEC} s lease TTL`);
    const d = await control.directiveWhere(target.nodeId, (x) => x.action === 'shed');
    assert.deepEqual([d.reason, d.targetLinks, d.by], ['alert', 1800, next]);
    // resolved: the new leader lets the node take links again (and the next test connect to it)
    const resolved = await postWebhook(
      receiver.adminUrl,
      alertmanagerBody([{ status: 'resolved', labels: { node: target.nodeId }, annotations: { threshold: '2000' } }]),
      { Authorization: `Bearer ${TOKEN}` },
    );
    assert.equal(resolved.status, 200, resolved.text);
    const n = await control.directiveWhere(target.nodeId, (x) => x.action === 'normal');
    assert.equal(n.by, next);
    await eventually('the node accepting again', async () => ((await fetch(`${target.adminUrl}/health/ready`)).status === 200 ? true : undefined));
    nodes = survivors;
  });

  it('SIGTERM the leader: it resigns first, so the last node leads well before its lease would have expired', T, async () => {
    const leaderId = await agreedLeader(nodes);
    const old = nodes.find((n) => n.nodeId === leaderId)!;
    const [last] = nodes.filter((n) => n !== old);
    // a link that does not read holds the drain open for its whole window (2 s): only a resignation at its start hands over sooner
    const { client } = await TestClient.open(old.wsUrl, { token: hsToken({ sub: 'holder', biz: 'leader-e2e' }) });
    client.pauseReading();
    const stoppedAt = Date.now();
    const exited = old.stop('SIGTERM', 15000);
    await eventually('the last node to lead', async () => ((await leaderSeenBy(last)) === last.nodeId ? true : undefined), 10000, 25);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs < 1500, `handed over after ${tookMs} ms: the drain's end or the lease's expiry (${TTL_SEC} s), not a resignation at the drain's start`);
    assert.equal(metricValue(await scrape(last.adminUrl), 'websocket_gateway_leader'), 1);
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.ok(Date.now() - stoppedAt > tookMs, 'the drain was still under way when the lead moved');
    client.terminate();
    nodes = [last];
  });
});
