import { strict as assert } from 'node:assert';
import * as nodeHttp from 'node:http';
import { after, before, describe, it } from 'node:test';
import { adminApi, AdminApi, http, HttpReply } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, startGateway } from '../fixtures/gateway-process';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 30000 };
const H = { timeout: 40000 };

/** One embedded node (no Redis, etcd or Kafka) serving the bizs shop and chat: the governance app's HTTP edge. */
describe('governance API: what it refuses and how', () => {
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: TestClient[] = [];

  before(async () => {
    gw = await startGateway({ GATEWAY_MODE: 'embedded', GATEWAY_PUSH_BIZ_IDS: 'shop,chat' });
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
  }, H);

  /** a request with the admin token, `body` sent exactly as given (none when undefined) */
  const raw = (method: string, path: string, body?: string, contentType = 'application/json'): Promise<HttpReply> =>
    http(`${gw.adminUrl}${path}`, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': contentType }, body });

  async function link(sub: string, biz: string): Promise<{ client: TestClient; sid: string }> {
    const { client, connected } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub, biz }) });
    clients.push(client);
    return { client, sid: connected.sid };
  }

  describe('POST /api/push and push.bizIds', () => {
    it('refuses a biz outside push.bizIds with 400 naming bizId, reason unknown_biz, as the Kafka path dead-letters it', T, async () => {
      const r = await api.push({ bizId: 'elsewhere', to: { users: ['u'] }, body: 1 });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error, 'bad_request');
      assert.deepEqual(r.body.problems, [{ field: 'bizId', message: 'biz elsewhere is not in push.bizIds', reason: 'unknown_biz' }]);
      assert.match(r.body.message, /^bizId: /);
    });

    it('refuses a whole batch with an unknown biz in it, naming its index, and sends none of it', T, async () => {
      const { client } = await link('ann', 'shop');
      const r = await api.push([
        { bizId: 'shop', to: { users: ['ann'] }, body: 'never' },
        { bizId: 'elsewhere', to: { users: ['ann'] }, body: 'never' },
      ]);
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(
        r.body.problems.map((p: { field: string; reason?: string }) => [p.field, p.reason]),
        [['1.bizId', 'unknown_biz']],
      );
      const ok = await api.push({ bizId: 'shop', to: { users: ['ann'] }, body: 'served' });
      assert.equal(ok.status, 202, ok.text);
      assert.equal((await client.next('push')).body, 'served', 'the first push to reach the link must be the accepted one');
    });
  });

  describe('request bodies', () => {
    it('takes an empty JSON body as no body: DELETE /api/clients/:id kicks with the default reason or ?reason=', T, async () => {
      const one = await link('kick-1', 'chat');
      const r = await raw('DELETE', `/api/clients/${encodeURIComponent(one.sid)}`, '');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { kicked: one.sid, reason: 'kicked by operator' });
      assert.deepEqual(await one.client.closed, { code: 4003, reason: 'kicked by operator' });

      const two = await link('kick-2', 'chat');
      const q = await raw('DELETE', `/api/clients/${encodeURIComponent(two.sid)}?reason=maintenance`, '');
      assert.equal(q.status, 200, q.text);
      assert.deepEqual(await two.client.closed, { code: 4003, reason: 'maintenance' });
      const gone = await raw('DELETE', `/api/clients/${encodeURIComponent(two.sid)}`, '');
      assert.deepEqual([gone.status, gone.body.error], [404, 'not_found'], gone.text);
    });

    it("an empty body where one is required is the route's own 400 naming the fields", T, async () => {
      const member = await raw('POST', '/api/rooms/lobby/members', '');
      assert.equal(member.status, 400, member.text);
      assert.deepEqual(member.body.problems.map((p: { field: string }) => p.field).sort(), ['bizId', 'userId']);
      const push = await raw('POST', '/api/push', '');
      assert.equal(push.status, 400, push.text);
      assert.deepEqual(
        push.body.problems.map((p: { field: string }) => p.field),
        ['(body)'],
      );
    });

    it('still refuses bad JSON (400), a poisoned prototype (400) and other media types (415) in the {error, message} shape', T, async () => {
      for (const [what, body] of [
        ['truncated', '{"bizId": '],
        ['only spaces', '   '],
        ['prototype poisoning', '{"bizId":"shop","to":{"all":true},"body":1,"__proto__":{"admin":true}}'],
      ]) {
        const r = await raw('POST', '/api/push', body);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.deepEqual(Object.keys(r.body).sort(), ['error', 'message'], `${what}: ${r.text}`);
        assert.equal(r.body.error, 'bad_request', what);
        if (what !== 'prototype poisoning') assert.match(r.body.message, /JSON/, what);
      }
      const xml = await raw('POST', '/api/push', '<push/>', 'application/xml');
      assert.deepEqual([xml.status, xml.body.error], [415, 'unsupported_media_type'], xml.text);
      assert.match(xml.body.message, /application\/json \(got application\/xml\)/);
      // and the node still takes a good push
      assert.equal((await api.push({ bizId: 'shop', to: { all: true }, body: 'after' })).status, 202);
    });
  });

  describe('a body over the 1 MiB limit', () => {
    const big = Buffer.from(JSON.stringify({ bizId: 'shop', to: { all: true }, body: 'x'.repeat(3 * 1024 * 1024) }));
    const headers = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };

    /** what one client saw: the status and body, or the error that kept it from reading them */
    async function viaFetch(): Promise<string> {
      try {
        const res = await fetch(`${gw.adminUrl}/api/push`, { method: 'POST', headers, body: big, signal: AbortSignal.timeout(10000) });
        return `${res.status} ${await res.text()}`;
      } catch (err) {
        return `failed: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
      }
    }
    function viaHttpRequest(chunked: boolean): Promise<string> {
      return new Promise((resolve) => {
        const req = nodeHttp.request(
          `${gw.adminUrl}/api/push`,
          { method: 'POST', headers: chunked ? headers : { ...headers, 'Content-Length': big.length }, timeout: 10000 },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(`${res.statusCode} ${text}`));
            res.on('error', (err: NodeJS.ErrnoException) => resolve(`failed reading: ${err.code ?? err.message}`));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve(`failed: ${err.code ?? err.message}`));
        req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
        req.end(big);
      });
    }

    it('is answered 413 with the JSON error, and every client reads it though it was still uploading (3 MiB, 20 times each way)', T, async () => {
      const expected = `413 ${JSON.stringify({ error: 'payload_too_large', message: 'Request body is too large' })}`;
      const seen = new Map<string, number>();
      for (const [how, send] of [
        ['fetch', viaFetch],
        ['http.request with Content-Length', () => viaHttpRequest(false)],
        ['http.request chunked', () => viaHttpRequest(true)],
      ] as const) {
        for (let i = 0; i < 20; i++) {
          const outcome = `${how}: ${await send()}`;
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        }
      }
      assert.deepEqual([...seen].map(([outcome, times]) => `${times} x ${outcome}`).sort(), [
        `20 x fetch: ${expected}`,
        `20 x http.request chunked: ${expected}`,
        `20 x http.request with Content-Length: ${expected}`,
      ]);
      assert.equal((await api.push({ bizId: 'shop', to: { all: true }, body: 'after 413s' })).status, 202);
    });
  });
});
