import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { CloseCode } from '../../src/link/close-codes';
import { adminApi, AdminApi, http, metricValueOr, scrape } from '../fixtures/admin';
import { ADMIN_TOKEN, eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes, ETCD_ENDPOINT } from '../fixtures/infra';
import { Claims, hsToken } from '../fixtures/tokens';
import { TestClient, upgradeRefusal } from '../fixtures/ws-client';

const T = { timeout: 20000 };
const H = { timeout: 40000 };
const uid = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}`;

/**
 * Two nodes sharing Redis (sessions, bus) and etcd (membership) under this file's prefixes.
 * Node A has a small send bound (64 KiB) for the slow-consumer test; both keep the default heartbeat.
 */
describe('cluster: push, kick, admin API, drain (two nodes sharing Redis and etcd)', () => {
  const prefixes = uniquePrefixes('cluster');
  let a: GatewayProcess;
  let b: GatewayProcess;
  let apiA: AdminApi;
  const clients: TestClient[] = [];

  async function link(node: GatewayProcess, claims: Claims): Promise<{ client: TestClient; sid: string }> {
    const { client, connected } = await TestClient.open(node.wsUrl, {
      token: hsToken(claims),
    });
    clients.push(client);
    assert.equal(connected.node, node.nodeId);
    return { client, sid: connected.sid };
  }

  before(async () => {
    [a, b] = await Promise.all([startGateway({ ...prefixes, GATEWAY_LINK_SEND_QUEUE_MAX_BYTES: '65536' }), startGateway(prefixes)]);
    apiA = adminApi(a.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanupPrefixes(prefixes);
  }, H);

  describe('push', () => {
    it('reaches every device of a user across two nodes; to.links reaches only the named link', T, async () => {
      const biz = uid('md');
      const onA = await link(a, { sub: 'ann', biz, did: 'phone' });
      const onB = await link(b, { sub: 'ann', biz, did: 'laptop' });

      const r = await apiA.push({
        bizId: biz,
        to: { users: ['ann'] },
        body: { n: 1 },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const [pa, pb] = await Promise.all([onA.client.next('push'), onB.client.next('push')]);
      assert.deepEqual(pa.body, { n: 1 });
      assert.deepEqual(pb.body, { n: 1 });
      assert.equal(pa.mid, r.body.mid);
      assert.equal(pb.mid, r.body.mid);

      const toB = await apiA.push({
        bizId: biz,
        to: { links: [onB.sid] },
        body: { n: 2 },
      });
      assert.equal(toB.status, 202);
      assert.deepEqual((await onB.client.next('push')).body, { n: 2 });
      // published after n:2 by the same node: if n:2 had reached the phone, it would come first
      assert.equal(
        (
          await apiA.push({
            bizId: biz,
            to: { links: [onA.sid] },
            body: { n: 3 },
          })
        ).status,
        202,
      );
      assert.deepEqual((await onA.client.next('push')).body, { n: 3 });
      assert.equal(onB.client.pending.length, 0);
    });

    it('to.all reaches every link of the biz and no link of another biz', T, async () => {
      const biz = uid('all');
      const other = uid('other');
      const members = [await link(a, { sub: 'u1', biz }), await link(b, { sub: 'u2', biz }), await link(b, { sub: 'u1', biz, did: 'tab' })];
      const outsider = await link(a, { sub: 'u1', biz: other });

      const r = await apiA.push({
        bizId: biz,
        to: { all: true },
        body: 'hello biz',
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      for (const m of members) {
        const p = await m.client.next('push');
        assert.equal(p.body, 'hello biz');
        assert.equal(p.mid, r.body.mid);
      }
      assert.equal((await apiA.push({ bizId: other, to: { all: true }, body: 'marker' })).status, 202);
      assert.equal((await outsider.client.next('push')).body, 'marker', 'the push to the other biz must not have reached this link');
    });
  });

  describe('kick', () => {
    it('closes a link on the same node with 4003 and the reason, and drops its session', T, async () => {
      const biz = uid('kick');
      const { client, sid } = await link(a, { sub: 'kicked', biz });
      const r = await apiA.kick(sid, 'bye');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(await client.closed, {
        code: CloseCode.KICKED,
        reason: 'bye',
      });
      await eventually('the session to leave the listing', async () =>
        (await apiA.clients({ biz, user: 'kicked' })).body.items.length === 0 ? true : undefined,
      );
    });

    it('closes a link held by the other node with 4003 and the reason', T, async () => {
      const biz = uid('kick');
      const stays = await link(b, { sub: 'kicked', biz, did: 'stays' });
      const { client, sid } = await link(b, {
        sub: 'kicked',
        biz,
        did: 'goes',
      });
      const listed = await apiA.clients({ biz, user: 'kicked' });
      assert.deepEqual(listed.body.items.map((s: { sid: string }) => s.sid).sort(), [stays.sid, sid].sort());
      const r = await apiA.kick(sid, 'bye');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(await client.closed, {
        code: CloseCode.KICKED,
        reason: 'bye',
      });
      await eventually('the kicked session to leave the listing', async () => {
        const items = (await apiA.clients({ biz, user: 'kicked' })).body.items.map((s: { sid: string }) => s.sid);
        return items.length === 1 ? items : undefined;
      }).then((items) => assert.deepEqual(items, [stays.sid]));
      assert.equal(stays.client.isClosed, false);
    });

    it('answers 404 for an unknown link id', T, async () => {
      const r = await apiA.kick('no-such-link-id', 'bye');
      assert.equal(r.status, 404);
      assert.equal(r.body.error, 'not_found');
    });
  });

  describe('admin API', () => {
    it('answers 401 without the admin token or with a wrong one', T, async () => {
      for (const api of [adminApi(a.adminUrl, null), adminApi(a.adminUrl, 'x'.repeat(ADMIN_TOKEN.length)), adminApi(a.adminUrl, 'short')]) {
        assert.equal((await api.clients()).status, 401);
        assert.equal((await api.push({ bizId: 'b', to: { all: true }, body: 1 })).status, 401);
        assert.equal((await api.kick('whatever')).status, 401);
      }
    });

    it('pages through the clients of a biz with limit and next, each exactly once', T, async () => {
      const biz = uid('page');
      const sids = [await link(a, { sub: 'p1', biz }), await link(b, { sub: 'p2', biz }), await link(a, { sub: 'p3', biz })].map((l) => l.sid);
      const seen: string[] = [];
      let page = await apiA.clients({ biz, limit: 1 });
      for (let i = 0; i < 10; i++) {
        assert.equal(page.status, 200, JSON.stringify(page.body));
        assert.ok(page.body.items.length <= 1, `limit=1 returned ${page.body.items.length} items`);
        seen.push(...page.body.items.map((s: { sid: string }) => s.sid));
        if (page.body.next === null) break;
        page = await apiA.clients({ biz, limit: 1, cursor: page.body.next });
      }
      assert.equal(page.body.next, null);
      assert.deepEqual([...seen].sort(), [...sids].sort());
    });

    it('pages through the links of one user with limit and next', T, async () => {
      const biz = uid('page-user');
      const sids = [await link(a, { sub: 'multi', biz, did: 'd1' }), await link(b, { sub: 'multi', biz, did: 'd2' })].map((l) => l.sid);
      const first = await apiA.clients({ biz, user: 'multi', limit: 1 });
      assert.equal(first.body.items.length, 1);
      assert.equal(typeof first.body.next, 'string');
      const second = await apiA.clients({
        biz,
        user: 'multi',
        limit: 1,
        cursor: first.body.next,
      });
      assert.equal(second.body.items.length, 1);
      assert.equal(second.body.next, null);
      assert.deepEqual([first.body.items[0].sid, second.body.items[0].sid].sort(), [...sids].sort());
    });

    it('filters clients by biz, user and name', T, async () => {
      const biz = uid('filter');
      const alice = await link(a, { sub: 'alice', biz, name: 'Alice Smith' });
      const bob = await link(b, { sub: 'bob', biz, name: 'Bob Jones' });
      const elsewhere = await link(a, {
        sub: 'alice',
        biz: uid('filter-other'),
        name: 'Alice Smith',
      });
      const sidsOf = async (q: Record<string, string>) =>
        (
          (await apiA.clients({ ...q, limit: 500 })).body.items as {
            sid: string;
          }[]
        )
          .map((s) => s.sid)
          .sort();
      assert.deepEqual(await sidsOf({ biz }), [alice.sid, bob.sid].sort());
      assert.deepEqual(await sidsOf({ biz, user: 'bob' }), [bob.sid]);
      assert.deepEqual(await sidsOf({ biz, name: 'smith' }), [alice.sid]);
      assert.ok((await sidsOf({ name: 'alice smith' })).includes(elsewhere.sid));
      assert.deepEqual(await sidsOf({ biz, name: 'nobody' }), []);
    });

    it('GET /api/clients/:id tells who, where and since when', T, async () => {
      const biz = uid('detail');
      const before = Date.now();
      const { sid } = await link(b, {
        sub: 'dora',
        biz,
        did: 'watch-7',
        name: 'Dora',
      });
      const after = Date.now();
      for (const api of [apiA, adminApi(b.adminUrl)]) {
        const r = await api.client(sid);
        assert.equal(r.status, 200);
        const { connectedAt, ...rest } = r.body;
        assert.deepEqual(rest, {
          sid,
          bizId: biz,
          userId: 'dora',
          deviceId: 'watch-7',
          name: 'Dora',
          ip: '127.0.0.1',
          node: b.nodeId,
        });
        assert.ok(connectedAt >= before - 5 && connectedAt <= after + 5, `connectedAt ${connectedAt} not in [${before}, ${after}]`);
      }
      assert.equal((await apiA.client('no-such-link')).status, 404);
    });

    it('refuses bad push bodies with 400 naming the field, and keeps serving', T, async () => {
      const cases: [string, unknown, string, RegExp?][] = [
        ['missing bizId', { to: { users: ['u'] }, body: 1 }, 'bizId'],
        ['two targets', { bizId: 'b', to: { users: ['u'], all: true }, body: 1 }, 'to'],
        ['to.users not an array', { bizId: 'b', to: { users: 'u' }, body: 1 }, 'to.users'],
        ['unknown key', { bizId: 'b', to: { all: true }, body: 1, colour: 'red' }, '(body)', /colour/],
        ['missing body', { bizId: 'b', to: { all: true } }, 'body'],
        [
          'bad element in an array',
          [
            { bizId: 'b', to: { all: true }, body: 1 },
            { bizId: 'b', to: {}, body: 1 },
          ],
          '1.to',
        ],
      ];
      for (const [what, body, field, message] of cases) {
        const r = await apiA.push(body);
        assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'bad_request', what);
        const problems = r.body.problems as {
          field: string;
          message: string;
        }[];
        const hit = problems.find((p) => p.field === field);
        assert.ok(hit, `${what}: no problem for field "${field}" in ${JSON.stringify(problems)}`);
        if (message) assert.match(hit.message, message, what);
      }
      // what the platform refuses before the handler gets the same {error, message} shape
      const notJson = await apiA.post('/api/push', '{"bizId": ');
      assert.deepEqual([notJson.status, notJson.body.error], [400, 'bad_request'], JSON.stringify(notJson.body));
      assert.match(notJson.body.message, /JSON/);
      const oversize = await apiA.post('/api/push', JSON.stringify({ bizId: 'b', to: { all: true }, body: 'x'.repeat(1100 * 1024) }));
      assert.deepEqual([oversize.status, oversize.body.error], [413, 'payload_too_large'], JSON.stringify(oversize.body));
      const xml = await http(`${a.adminUrl}/api/push`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/xml' },
        body: '<push/>',
      });
      assert.deepEqual([xml.status, xml.body.error], [415, 'unsupported_media_type'], JSON.stringify(xml.body));
      assert.match(xml.body.message, /application\/json \(got application\/xml\)/);
      const unknownRoute = await apiA.get('/api/nope');
      assert.deepEqual([unknownRoute.status, unknownRoute.body.error], [404, 'not_found']);
      // nothing of a refused batch went out, and the node still pushes
      const biz = uid('after-400');
      const { client } = await link(a, { sub: 'u', biz });
      assert.equal(
        (
          await apiA.push([
            { bizId: biz, to: { users: ['u'] }, body: 'ok-1' },
            { bizId: biz, to: { users: 5 }, body: 'never' },
          ])
        ).status,
        400,
      );
      const ok = await apiA.push({
        bizId: biz,
        to: { users: ['u'] },
        body: 'ok-2',
      });
      assert.equal(ok.status, 202);
      assert.equal((await client.next('push')).body, 'ok-2');
    });
  });

  describe('slow consumer', () => {
    it('closes a link that stops reading with 4008 while another user on the node gets every push', T, async () => {
      const biz = uid('slow');
      const slow = await link(a, { sub: 'slow', biz });
      const fast = await link(a, { sub: 'fast', biz });
      // the fast client reads its socket all along (frames wait in its buffer until next() takes them)
      slow.client.pauseReading();
      // each round stays under the 64 KiB bound, so only the backlog of a link that does not read can pass it
      const big = 'x'.repeat(18 * 1024);
      // node a has dropped nothing for a slow consumer yet: the series is absent until the first drop (0)
      const dropped = async () => metricValueOr(await scrape(a.adminUrl), 'websocket_gateway_push_dropped_total', { reason: 'slow_consumer' }, 0);
      const before = await dropped();
      const sentToFast: string[] = [];
      let rounds = 0;
      while ((await dropped()) === before) {
        assert.ok(++rounds <= 400, 'the paused link was never found slow after 400 rounds of 54 KiB');
        const mid = `fast-${rounds}`;
        sentToFast.push(mid);
        const r = await apiA.push([
          ...Array.from({ length: 3 }, () => ({
            bizId: biz,
            to: { users: ['slow'] },
            body: big,
          })),
          {
            mid,
            bizId: biz,
            to: { users: ['fast'] },
            body: { round: rounds },
          },
        ]);
        assert.equal(r.status, 202, JSON.stringify(r.body));
      }
      assert.ok(rounds > 1, 'the link was cut off before it could have fallen behind');
      // a few more for the fast link after the slow one was cut off
      for (let i = 0; i < 3; i++) {
        const mid = `fast-after-${i}`;
        sentToFast.push(mid);
        assert.equal(
          (
            await apiA.push({
              mid,
              bizId: biz,
              to: { users: ['fast'] },
              body: { after: i },
            })
          ).status,
          202,
        );
      }
      slow.client.resumeReading();
      const closed = await slow.client.closed;
      assert.equal(closed.code, CloseCode.SLOW_CONSUMER);
      for (const mid of sentToFast) assert.equal((await fast.client.next('push')).mid, mid);
      assert.equal(fast.client.pending.length, 0, `unexpected extra frames: ${JSON.stringify(fast.client.pending).slice(0, 300)}`);
      assert.equal(fast.client.isClosed, false);
      assert.deepEqual(await fast.client.request('alive', 1), {
        type: 'ack',
        id: 'alive',
        code: 0,
        body: 1,
      });
    });
  });

  describe('drain on SIGTERM', () => {
    it('drains on SIGTERM as soon as /health/ready lets clients in', T, async () => {
      // warn: no "ready" log line, so the fixture returns once /health/live says running; then wait as a balancer does
      const d = await startGateway({
        ...prefixes,
        GATEWAY_LOG_LEVEL: 'warn',
      });
      try {
        await eventually('/health/ready to answer 200', async () => ((await http(`${d.adminUrl}/health/ready`)).status === 200 ? true : undefined), 10000);
        const { client } = await link(d, { sub: 'early', biz: uid('early') });
        const exited = d.stop('SIGTERM', 15000);
        assert.equal((await client.closed).code, CloseCode.GOING_AWAY, 'the link was dropped instead of drained');
        assert.deepEqual(await exited, { code: 0, signal: null }, 'the node died of the signal instead of shutting down');
      } finally {
        await d.stop('SIGKILL');
        // a node killed by the signal leaves its entry until the lease expires: drop it, so later tests see no ghost peer
        const etcd = new Etcd3({ hosts: ETCD_ENDPOINT, dialTimeout: 2000 });
        try {
          await etcd.delete().key(`${prefixes.GATEWAY_ETCD_PREFIX}${d.nodeId}`);
        } finally {
          etcd.close();
        }
      }
    });

    it('deregisters, redirects and closes its links with 1001, refuses upgrades, exits 0 and leaves no session', { timeout: 40000 }, async () => {
      const c = await startGateway({
        ...prefixes,
        GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '4000',
      });
      const etcd = new Etcd3({ hosts: ETCD_ENDPOINT, dialTimeout: 2000 });
      try {
        const biz = uid('drain');
        const one = await link(c, { sub: 'd1', biz });
        const two = await link(c, { sub: 'd2', biz });
        // a third link that does not read holds the drain open long enough to try an upgrade meanwhile
        const holder = await link(c, { sub: 'd3', biz });
        holder.client.pauseReading();
        const key = `${prefixes.GATEWAY_ETCD_PREFIX}${c.nodeId}`;
        const registered = await etcd.get(key).string();
        assert.ok(registered, `node ${c.nodeId} is not registered at ${key}`);
        assert.equal(JSON.parse(registered).wsUrl, c.wsUrl);
        assert.equal((await apiA.clients({ biz, limit: 500 })).body.items.length, 3);

        const exited = c.stop('SIGTERM', 15000);
        const peers = [a.wsUrl, b.wsUrl];
        for (const l of [one, two]) {
          // the node stops its Kafka consumer before it turns to its links, which can take a few seconds
          const redirect = await l.client.next('redirect', 15000);
          assert.ok(peers.includes(redirect.url), `redirected to ${redirect.url}, not to a running peer (${peers.join(', ')})`);
          assert.equal((await l.client.closed).code, CloseCode.GOING_AWAY);
        }
        const refused = await upgradeRefusal(c.wsUrl, {
          token: hsToken({ sub: 'late', biz }),
        });
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error, 'draining');
        holder.client.resumeReading();
        assert.equal((await holder.client.next('redirect')).type, 'redirect');
        assert.equal((await holder.client.closed).code, CloseCode.GOING_AWAY);

        assert.deepEqual(await exited, { code: 0, signal: null });
        assert.equal(await etcd.get(key).string(), null, 'the etcd entry outlived the node');
        const left = (await apiA.clients({ biz, limit: 500 })).body.items;
        assert.deepEqual(left, [], 'sessions of the stopped node are still listed');
      } finally {
        etcd.close();
        await c.stop('SIGKILL');
      }
    });
  });
});
