import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { alertmanagerBody, grafanaBody, grafanaSignedHeaders } from '../../../test/fixtures/alert-payloads';
import { alertIdentity, alertKey } from '../../cluster/alert-key';
import { checkWebhookAuth, WebhookCredentials } from './webhook-auth';
import { parseWebhook, thresholdOf, valueOf } from './webhook.payload';

const creds = (over: Partial<WebhookCredentials> = {}): WebhookCredentials => ({
  hmacHeader: 'X-Grafana-Alerting-Signature',
  hmacTimestampHeader: 'X-Grafana-Alerting-Timestamp',
  replayWindowMs: 300000,
  ...over,
});
const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const TOKEN = 'webhook-token-0123456789';
const SECRET = 'hmac-secret-0123456789';

describe('webhook auth', () => {
  const body = Buffer.from(JSON.stringify(grafanaBody([{ labels: { node: 'n1' } }])));
  const now = 1_750_000_000_000;

  it('refuses everything when no credential is configured', () => {
    const r = checkWebhookAuth(creds(), { authorization: `Bearer ${TOKEN}` }, body, now);
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /no credentials configured/);
  });

  it('bearer: the right token passes, a wrong one, a missing one or another scheme does not', () => {
    const c = creds({ token: TOKEN });
    assert.deepEqual(checkWebhookAuth(c, { authorization: `Bearer ${TOKEN}` }, body, now), { ok: true, method: 'bearer' });
    assert.deepEqual(checkWebhookAuth(c, { authorization: `bearer ${TOKEN}` }, body, now), { ok: true, method: 'bearer' });
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer ', basic('u', TOKEN), 'Token abc'])
      assert.equal(checkWebhookAuth(c, { authorization }, body, now).ok, false, authorization);
    assert.match((checkWebhookAuth(c, {}, body, now) as { reason: string }).reason, /no credentials: send bearer/);
  });

  it('basic: user and password must both match', () => {
    const c = creds({ basicUser: 'alertmanager', basicPassword: 'basic-password-0123' });
    assert.deepEqual(checkWebhookAuth(c, { authorization: basic('alertmanager', 'basic-password-0123') }, body, now), { ok: true, method: 'basic' });
    for (const authorization of [basic('alertmanager', 'wrong'), basic('other', 'basic-password-0123'), 'Basic !!!', `Bearer ${TOKEN}`])
      assert.equal(checkWebhookAuth(c, { authorization }, body, now).ok, false, authorization);
  });

  it("HMAC: Grafana's signature of <unix seconds>:<body> passes within the replay window; a bad, stale, future or unstamped one does not", () => {
    const c = creds({ hmacSecret: SECRET });
    const ts = String(Math.floor(now / 1000));
    // computed here the way grafana/alerting's HMACRoundTripper does: hmac(secret), write ts, ":", body; hex
    const expected = createHmac('sha256', SECRET).update(`${ts}:`).update(body).digest('hex');
    const good = lower(grafanaSignedHeaders(SECRET, body.toString(), Number(ts)));
    assert.equal(good['x-grafana-alerting-signature'], expected);
    assert.deepEqual(checkWebhookAuth(c, good, body, now), { ok: true, method: 'hmac' });
    assert.deepEqual(checkWebhookAuth(c, good, body, now + 299_000), { ok: true, method: 'hmac' });
    const bad = { ...good, 'x-grafana-alerting-signature': expected.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a')) };
    assert.match((checkWebhookAuth(c, bad, body, now) as { reason: string }).reason, /bad signature/);
    assert.match((checkWebhookAuth(c, good, Buffer.concat([body, Buffer.from(' ')]), now) as { reason: string }).reason, /bad signature/);
    assert.match((checkWebhookAuth(c, good, body, now + 301_000) as { reason: string }).reason, /stale/);
    assert.match((checkWebhookAuth(c, good, body, now - 301_000) as { reason: string }).reason, /stale/);
    const unstamped = { 'x-grafana-alerting-signature': createHmac('sha256', SECRET).update(body).digest('hex') };
    assert.match((checkWebhookAuth(c, unstamped, body, now) as { reason: string }).reason, /timestamp/);
  });

  it('every credential presented must be right: a good bearer with a bad signature is refused', () => {
    const c = creds({ token: TOKEN, hmacSecret: SECRET });
    const good = lower(grafanaSignedHeaders(SECRET, body.toString(), Math.floor(now / 1000)));
    assert.equal(checkWebhookAuth(c, { ...good, authorization: `Bearer ${TOKEN}` }, body, now).ok, true);
    assert.equal(checkWebhookAuth(c, { ...good, 'x-grafana-alerting-signature': '00', authorization: `Bearer ${TOKEN}` }, body, now).ok, false);
  });
});

describe('webhook payloads', () => {
  it("parses Alertmanager's version 4 body", () => {
    const r = parseWebhook(alertmanagerBody([{ labels: { instance: '127.0.0.1:9003' }, annotations: { threshold: '1000' } }]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.payload.source, 'alertmanager');
    assert.equal(r.payload.alerts.length, 1);
    assert.equal(thresholdOf(r.payload.alerts[0]), 1000);
    assert.equal(valueOf(r.payload.alerts[0]), undefined);
  });

  it("parses Grafana's body (orgId) with its values", () => {
    const r = parseWebhook(grafanaBody([{ labels: { node: 'n1', threshold: '900' } }]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.payload.source, 'grafana');
    assert.equal(valueOf(r.payload.alerts[0]), 1234);
    assert.equal(thresholdOf(r.payload.alerts[0]), 900);
  });

  it('names the field of a malformed body', () => {
    const cases: [string, unknown, string][] = [
      ['not an object', [1, 2], '(body)'],
      ['no version, no orgId', { ...alertmanagerBody([]), version: undefined }, 'version'],
      ['alerts not an array', { ...alertmanagerBody([]), alerts: 'x' }, 'alerts'],
      ['bad status', alertmanagerBody([{ status: 'burning' as 'firing', labels: {} }]), 'alerts.0.status'],
      ['bad startsAt', alertmanagerBody([{ labels: {}, startsAt: 'yesterday' }]), 'alerts.0.startsAt'],
      [
        'label not a string',
        { ...alertmanagerBody([]), alerts: [{ ...alertmanagerBody([{ labels: {} }]).alerts[0], labels: { node: 5 } }] },
        'alerts.0.labels.node',
      ],
      ['grafana orgId not a number', { ...grafanaBody([]), orgId: 'one' }, 'orgId'],
    ];
    for (const [what, body, field] of cases) {
      const r = parseWebhook(body);
      assert.equal(r.ok, false, what);
      const fields = (r as { problems: { field: string }[] }).problems.map((p) => p.field);
      assert.ok(fields.includes(field), `${what}: ${JSON.stringify(fields)}`);
    }
  });
});

describe('alert keys', () => {
  it('are one per fingerprint, instant and status, safe in an etcd key', () => {
    const a = alertKey('c6ea/dff+a33', '2021-10-12T09:51:03.157+02:00', 'firing');
    assert.match(a, /^[A-Za-z0-9_.-]+$/);
    assert.equal(a, alertKey('c6ea/dff+a33', '2021-10-12T07:51:03.157Z', 'firing'), 'the same instant written two ways');
    const resolved = alertKey('c6ea/dff+a33', '2021-10-12T07:51:03.157Z', 'resolved');
    assert.notEqual(a, resolved);
    assert.equal(alertIdentity(a), alertIdentity(resolved));
    assert.notEqual(alertIdentity(a), alertIdentity(alertKey('other', '2021-10-12T07:51:03.157Z', 'firing')));
  });
});
