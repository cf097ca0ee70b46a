import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi, http } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import {
  Alertmanager,
  Notification,
  OVERLOAD_ALERT,
  Prometheus,
  useAlertmanager,
  usePrometheus,
  webhookReceiver,
  WebhookReceiver,
} from '../fixtures/monitoring';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 30000 };
const H = { timeout: 40000 };
const WEBHOOK_TOKEN = 'e2e-webhook-token-0123456789abcdef';
/** the test's threshold: more than this many users on one node fires the (shipped) rule */
const THRESHOLD = 3;

/**
 * The monitoring pipeline on its own, with the real Prometheus and Alertmanager of
 * scripts/deps.sh running the shipped configuration (deploy/): two cluster nodes found through
 * /api/sd, the shipped GatewayNodeOverloaded rule with a threshold of 3, and Alertmanager's
 * shipped route posting to a stand-in for /webhook/v1. Every test that uses the one Prometheus
 * and Alertmanager lives in this file, so none runs beside another (see test/fixtures/monitoring.ts).
 */
describe('monitoring: discovery, the overload rule and the webhook route, on real Prometheus and Alertmanager', () => {
  const prefixes = uniquePrefixes('monitoring');
  let a: GatewayProcess;
  let b: GatewayProcess;
  let receiver: WebhookReceiver;
  let prom: Prometheus | undefined;
  let am: Alertmanager | undefined;
  const clients: TestClient[] = [];
  const instance = (n: GatewayProcess) => `127.0.0.1:${n.governancePort}`;

  before(async () => {
    [a, b, receiver] = await Promise.all([startGateway(prefixes), startGateway(prefixes), webhookReceiver()]);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.allSettled([prom?.reset(), am?.reset()]);
    await Promise.all([a?.stop(), b?.stop(), receiver?.close()]);
    await cleanupPrefixes(prefixes);
  }, H);

  describe('GET /api/sd', () => {
    it('lists both registered nodes, each its governance host:port labelled with its node id, as application/json', T, async () => {
      const r = await adminApi(a.adminUrl).get('/api/sd');
      assert.equal(r.status, 200, r.text);
      const groups = r.body as { targets: string[]; labels: Record<string, string> }[];
      const byNode = new Map(groups.map((g) => [g.labels.node, g]));
      assert.equal(groups.length, 2, r.text);
      for (const n of [a, b]) {
        assert.deepEqual(byNode.get(n.nodeId)?.targets, [instance(n)], r.text);
        assert.equal(byNode.get(n.nodeId)?.labels.__meta_gateway_state, 'running');
      }
      const res = await fetch(`${a.adminUrl}/api/sd`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      // what Prometheus insists on (https://prometheus.io/docs/prometheus/latest/http_sd/)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json(; *charset=utf-8)?$/i);
    });

    it('answers 401 without the admin token, and with a wrong one', T, async () => {
      const none = await http(`${a.adminUrl}/api/sd`);
      assert.equal(none.status, 401, none.text);
      assert.equal(none.body.error, 'unauthorized');
      const wrong = await adminApi(a.adminUrl, `${ADMIN_TOKEN.slice(0, -1)}x`).get('/api/sd');
      assert.equal(wrong.status, 401, wrong.text);
    });
  });

  describe('Prometheus and Alertmanager with the shipped configuration', () => {
    before(async () => {
      prom = await usePrometheus({ sdUrl: `${a.adminUrl}/api/sd`, bearer: ADMIN_TOKEN, threshold: THRESHOLD, forSec: 1 });
      am = await useAlertmanager({ webhookUrl: receiver.url, bearer: WEBHOOK_TOKEN });
    }, H);

    it('discovers both nodes through /api/sd and scrapes them: targets up, labelled node and instance', T, async () => {
      const targets = await prom!.awaitTargets('both nodes up', (ts) => {
        const up = ts.filter((t) => t.health === 'up' && [a.nodeId, b.nodeId].includes(t.labels.node));
        return up.length === 2 ? up : undefined;
      });
      for (const n of [a, b]) {
        const t = targets.find((x) => x.labels.node === n.nodeId)!;
        assert.equal(t.labels.instance, instance(n));
        assert.equal(t.labels.job, 'ws-gateway');
        assert.equal(t.scrapeUrl, `http://${instance(n)}/metrics`);
        assert.equal(t.labels.state, undefined, 'state is a __meta_ label, not a label of every series');
      }
    });

    it(
      'fires GatewayNodeOverloaded for the node past the threshold only, and Alertmanager posts it with the bearer; resolved once the links go',
      T,
      async () => {
        const isOverload = (status: string, node: GatewayProcess) => (n: Notification) =>
          n.body?.status === status && n.body.alerts?.some((x: any) => x.labels.alertname === OVERLOAD_ALERT && x.labels.instance === instance(node));
        // one user more than the threshold, all on node a; node b gets one user, under it
        const users = Array.from({ length: THRESHOLD + 1 }, (_, i) => `u${i}`);
        const onA = await Promise.all(users.map((u) => TestClient.open(a.wsUrl, { token: hsToken({ sub: u, biz: 'mon' }) })));
        const onB = await TestClient.open(b.wsUrl, { token: hsToken({ sub: 'solo', biz: 'mon' }) });
        clients.push(...onA.map((o) => o.client), onB.client);

        const firing = await receiver.next(`firing for ${instance(a)}`, isOverload('firing', a));
        assert.equal(firing.headers.authorization, `Bearer ${WEBHOOK_TOKEN}`);
        assert.equal(firing.body.version, '4');
        assert.equal(firing.body.receiver, 'gateway-webhook');
        assert.deepEqual(firing.body.groupLabels, { alertname: OVERLOAD_ALERT, instance: instance(a) });
        const alert = firing.body.alerts.find((x: any) => x.labels.instance === instance(a));
        assert.equal(alert.status, 'firing');
        assert.equal(alert.labels.severity, 'warning');
        assert.equal(alert.annotations.threshold, String(THRESHOLD));
        assert.match(alert.annotations.summary, new RegExp(`${instance(a)} has ${THRESHOLD + 1} online users \\(threshold ${THRESHOLD}\\)`));
        assert.ok(alert.fingerprint && alert.startsAt, JSON.stringify(alert));

        await Promise.all(onA.map((o) => o.client.close()));
        const resolved = await receiver.next(`resolved for ${instance(a)}`, isOverload('resolved', a));
        assert.equal(resolved.headers.authorization, `Bearer ${WEBHOOK_TOKEN}`);
        assert.equal(resolved.body.alerts.find((x: any) => x.labels.instance === instance(a)).fingerprint, alert.fingerprint);
        // node b (one user) was never over the threshold: nothing ever named it
        const namedB = receiver.received.filter((n) => n.body.alerts?.some((x: any) => x.labels.instance === instance(b)));
        assert.deepEqual(namedB, [], 'an alert named the node under the threshold');
      },
    );
  });
});
