import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi, metricValueOr, scrape } from '../fixtures/admin';
import { alertmanagerBody, grafanaBody, grafanaSignedHeaders } from '../fixtures/alert-payloads';
import { controlSpace, postWebhook } from '../fixtures/control';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';

const T = { timeout: 30000 };
const H = { timeout: 60000 };
const TOKEN = 'e2e-webhook-token-0123456789';
const SECRET = 'e2e-webhook-hmac-secret-0123456789';
const USER = 'alertmanager';
const PASSWORD = 'e2e-basic-password-0123';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const bearer = { Authorization: `Bearer ${TOKEN}` };

/**
 * Two cluster nodes on one etcd prefix: `a` accepts the webhook with a bearer token, basic auth
 * and Grafana's HMAC; `b` has no webhook credentials and so refuses every call. Whichever leads
 * turns what either records into directives, read here straight from etcd.
 */
describe('alert webhook: auth, payloads, idempotence, manual requests (two cluster nodes)', () => {
  const prefixes = uniquePrefixes('webhook');
  const control = controlSpace(prefixes.GATEWAY_ETCD_PREFIX);
  let a: GatewayProcess;
  let b: GatewayProcess;
  const common = { ...prefixes, GATEWAY_PUSH_CONSUME: 'false', GATEWAY_REBALANCE_ENABLED: 'false' };

  before(async () => {
    [a, b] = await Promise.all([
      startGateway({
        ...common,
        GATEWAY_WEBHOOK_TOKEN: TOKEN,
        GATEWAY_WEBHOOK_BASIC_USER: USER,
        GATEWAY_WEBHOOK_BASIC_PASSWORD: PASSWORD,
        GATEWAY_WEBHOOK_HMAC_SECRET: SECRET,
        GATEWAY_WEBHOOK_MAX_BODY_BYTES: '16384',
      }),
      startGateway(common),
    ]);
  }, H);
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await control.close();
    await cleanupPrefixes(prefixes);
  }, H);

  const empty = () => alertmanagerBody([]);

  it('with no credentials configured (cluster mode) refuses every call with 401, and said so at boot', T, async () => {
    for (const headers of [{}, bearer, { Authorization: basic(USER, PASSWORD) }, grafanaSignedHeaders(SECRET, JSON.stringify(empty()))]) {
      const r = await postWebhook(b.adminUrl, empty(), headers);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.body.error, 'unauthorized');
      assert.match(r.body.message, /no credentials configured/);
    }
    assert.ok(
      b.logs.some((l) => l.includes('"level":40') && l.includes('alert webhook refuses every call')),
      'no warning at boot that the webhook refuses everything',
    );
  });

  it('auth matrix: none, bad bearer, good bearer, basic good and bad, bad HMAC, stale timestamp, good HMAC', T, async () => {
    const body = JSON.stringify(empty());
    const now = Math.floor(Date.now() / 1000);
    const signed = grafanaSignedHeaders(SECRET, body, now);
    const cases: [string, Record<string, string>, number, RegExp?][] = [
      ['none', {}, 401, /no credentials: send/],
      ['bad bearer', { Authorization: `Bearer ${TOKEN.replace(/.$/, 'x')}` }, 401, /wrong bearer/],
      ['good bearer', bearer, 200],
      ['good basic', { Authorization: basic(USER, PASSWORD) }, 200],
      ['bad basic', { Authorization: basic(USER, `${PASSWORD}x`) }, 401, /wrong basic/],
      [
        'bad HMAC',
        { ...signed, 'X-Grafana-Alerting-Signature': grafanaSignedHeaders(`${SECRET}x`, body, now)['X-Grafana-Alerting-Signature'] },
        401,
        /bad signature/,
      ],
      ['HMAC of another body', grafanaSignedHeaders(SECRET, `${body} `, now), 401, /bad signature/],
      ['stale timestamp', grafanaSignedHeaders(SECRET, body, now - 3600), 401, /stale/],
      ['good HMAC', signed, 200],
    ];
    for (const [what, headers, status, message] of cases) {
      const r = await postWebhook(a.adminUrl, body, headers);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      if (message) assert.match(r.body.message, message, what);
      if (status === 200) assert.deepEqual(r.body, { source: 'alertmanager', received: 0, recorded: [], ignored: [] }, what);
    }
  });

  it('refuses malformed bodies with 400 naming the field, and oversized ones with 413', T, async () => {
    const cases: [string, unknown, string][] = [
      ['no version', { ...empty(), version: '3' }, 'version'],
      ['alerts not an array', { ...empty(), alerts: {} }, 'alerts'],
      ['bad alert status', alertmanagerBody([{ status: 'pending' as 'firing', labels: { node: a.nodeId } }]), 'alerts.0.status'],
      ['bad startsAt', alertmanagerBody([{ labels: { node: a.nodeId }, startsAt: 'soon' }]), 'alerts.0.startsAt'],
      ['grafana orgId', { ...grafanaBody([]), orgId: 'main' }, 'orgId'],
    ];
    for (const [what, body, field] of cases) {
      const r = await postWebhook(a.adminUrl, body, bearer);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.body.error, 'bad_request');
      assert.ok(
        (r.body.problems as { field: string }[]).some((p) => p.field === field),
        `${what}: no problem for ${field} in ${r.text}`,
      );
    }
    const notJson = await postWebhook(a.adminUrl, '{"version": ', bearer);
    assert.deepEqual([notJson.status, notJson.body.error], [400, 'bad_request'], notJson.text);
    const big = alertmanagerBody([{ labels: { node: 'nobody', padding: 'x'.repeat(20000) } }]);
    const tooBig = await postWebhook(a.adminUrl, big, bearer);
    assert.deepEqual([tooBig.status, tooBig.body.error], [413, 'payload_too_large'], tooBig.text);
  });

  it('answers 200 listing the alerts about no known node, and counts them', T, async () => {
    const ignoredBefore = metricValueOr(await scrape(a.adminUrl), 'websocket_gateway_alerts_ignored_total', { reason: 'unknown_node' }, 0);
    const r = await postWebhook(
      a.adminUrl,
      alertmanagerBody([{ labels: { node: 'no-such-node' } }, { labels: { instance: '10.9.9.9:9003' } }, { labels: { job: 'gateway' } }]),
      bearer,
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.ignored.map((i: { index: number; reason: string }) => [i.index, i.reason]),
      [
        [0, 'unknown_node'],
        [1, 'unknown_node'],
        [2, 'no_node_label'],
      ],
    );
    assert.deepEqual(r.body.recorded, []);
    const text = await scrape(a.adminUrl);
    assert.equal(metricValueOr(text, 'websocket_gateway_alerts_ignored_total', { reason: 'unknown_node' }, 0), ignoredBefore + 2);
  });

  it(
    'Alertmanager, by instance: a firing alert sheds the node to threshold minus margin; the same alert again is one record and one directive; resolved sets it normal',
    T,
    async () => {
      const instance = new URL(b.adminUrl).host;
      const firing = alertmanagerBody([{ labels: { instance }, annotations: { threshold: '1000' }, fingerprint: 'am-fp-1' }]);
      const first = await postWebhook(a.adminUrl, firing, bearer);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        first.body.recorded.map((x: { node: string; result: string }) => [x.node, x.result]),
        [[b.nodeId, 'recorded']],
      );
      const shed = await control.directiveWhere(b.nodeId, (d) => d.action === 'shed');
      assert.deepEqual([shed.reason, shed.targetLinks], ['alert', 900]);
      // Alertmanager's repeat_interval resend, to the other node's webhook this time is not possible (b refuses): to a, again
      const again = await postWebhook(a.adminUrl, firing, { Authorization: basic(USER, PASSWORD) });
      assert.deepEqual(
        again.body.recorded.map((x: { result: string }) => x.result),
        ['repeat'],
      );
      assert.equal((await control.alerts(b.nodeId)).length, 1, 'one record for the alert');
      // the resolved notification is acted on after the repeat: had the repeat made a directive, it would be among those issued
      const resolved = alertmanagerBody([{ status: 'resolved', labels: { instance }, annotations: { threshold: '1000' }, fingerprint: 'am-fp-1' }]);
      assert.equal((await postWebhook(a.adminUrl, resolved, bearer)).status, 200);
      const normal = await control.directiveWhere(b.nodeId, (d) => d.action === 'normal');
      assert.equal(normal.reason, 'alert');
      const issued = async () => {
        let n = 0;
        for (const node of [a, b])
          n += metricValueOr(await scrape(node.adminUrl), 'websocket_gateway_directives_total', { action: 'shed', reason: 'alert' }, 0);
        return n;
      };
      assert.equal(await issued(), 1, 'exactly one shed directive was issued');
      const received = metricValueOr(await scrape(a.adminUrl), 'websocket_gateway_alerts_received_total', { status: 'firing', source: 'alertmanager' }, 0);
      assert.equal(received, 2, 'both deliveries counted as received');
    },
  );

  it('Grafana, by node label, HMAC-signed: sheds to its threshold label minus margin, then resolved sets it normal', T, async () => {
    const body = JSON.stringify(grafanaBody([{ labels: { node: a.nodeId, threshold: '500' } }]));
    const r = await postWebhook(a.adminUrl, body, grafanaSignedHeaders(SECRET, body));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.source, 'grafana');
    const shed = await control.directiveWhere(a.nodeId, (d) => d.action === 'shed');
    assert.deepEqual([shed.reason, shed.targetLinks], ['alert', 450]);
    const [record] = await control.alerts(a.nodeId);
    assert.deepEqual([record.source, record.value, record.threshold, record.receivedBy], ['grafana', 1234, 500, a.nodeId]);
    const resolved = JSON.stringify(grafanaBody([{ status: 'resolved', labels: { node: a.nodeId, threshold: '500' } }]));
    assert.equal((await postWebhook(a.adminUrl, resolved, grafanaSignedHeaders(SECRET, resolved))).status, 200);
    await control.directiveWhere(a.nodeId, (d) => d.action === 'normal' && d.issuedAt > shed.issuedAt);
  });

  it('manual drain, shed and undrain on any node become directives; unknown node 404, bad body 400, no token 401', T, async () => {
    const api = adminApi(b.adminUrl);
    const drain = await api.post(`/api/nodes/${a.nodeId}/drain`, {});
    assert.equal(drain.status, 202, drain.text);
    assert.equal(typeof drain.body.request, 'string');
    const drained = await control.directiveWhere(a.nodeId, (d) => d.action === 'drain');
    assert.equal(drained.reason, 'manual');
    const shed = await api.post(`/api/nodes/${a.nodeId}/shed`, { targetLinks: 5 });
    assert.equal(shed.status, 202, shed.text);
    const shedding = await control.directiveWhere(a.nodeId, (d) => d.action === 'shed' && d.reason === 'manual');
    assert.equal(shedding.targetLinks, 5);
    const undrain = await adminApi(a.adminUrl).post(`/api/nodes/${a.nodeId}/undrain`, undefined);
    assert.equal(undrain.status, 202, undrain.text);
    await control.directiveWhere(a.nodeId, (d) => d.action === 'normal' && d.reason === 'manual');
    await eventually('the requests to be deleted once acted on', async () =>
      Object.keys(await control.etcd.getAll().prefix(control.keys.requests).strings()).length === 0 ? true : undefined,
    );

    const unknown = await api.post('/api/nodes/no-such-node/drain', {});
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'not_found'], unknown.text);
    for (const [body, field] of [
      [{}, 'targetLinks'],
      [{ targetLinks: -1 }, 'targetLinks'],
      [{ targetLinks: 'many' }, 'targetLinks'],
    ] as const) {
      const bad = await api.post(`/api/nodes/${a.nodeId}/shed`, body);
      assert.equal(bad.status, 400, bad.text);
      assert.ok(
        (bad.body.problems as { field: string }[]).some((p) => p.field === field),
        bad.text,
      );
    }
    const extra = await api.post(`/api/nodes/${a.nodeId}/drain`, { now: true });
    assert.equal(extra.status, 400, extra.text);
    assert.equal((await adminApi(a.adminUrl, null).post(`/api/nodes/${a.nodeId}/drain`, {})).status, 401);
  });
});
