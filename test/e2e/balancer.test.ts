import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/link/close-codes';
import { adminApi, AdminApi, http, metricValueOr, scrape } from '../fixtures/admin';
import { ADMIN_TOKEN, eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { TestClient, upgradeRefusal } from '../fixtures/ws-client';

const H = { timeout: 90000 };
const BIZ = 'bal';
const CHECK_MS = 1000;

interface BackendItem {
  id: string;
  url: string;
  healthy: boolean;
  registered: boolean;
  lastCheck: number | null;
  links: number;
  proxied: number;
  state: string;
  strategy: string;
}

describe('balancer: one entry point over three nodes (round robin, least connections, consistent hash)', () => {
  const prefixes = uniquePrefixes('bal');
  const nodeEnv = {
    ...prefixes,
    GATEWAY_ETCD_LOAD_INTERVAL_MS: '300',
    GATEWAY_UPGRADER_RATE_PER_IP: '100000',
    // the balancer is on loopback: the client's address is the one it forwards
    GATEWAY_UPGRADER_TRUSTED_PROXIES: '127.0.0.1',
    GATEWAY_REBALANCE_ENABLED: 'false',
  };
  const balancerEnv = (strategy: string) => ({
    ...prefixes,
    GATEWAY_ROLE: 'balancer',
    GATEWAY_BALANCER_STRATEGY: strategy,
    GATEWAY_BALANCER_CHECK_INTERVAL_MS: String(CHECK_MS),
    GATEWAY_BALANCER_CHECK_TIMEOUT_MS: '500',
    GATEWAY_UPGRADER_RATE_PER_IP: '100000',
  });
  const nodes: GatewayProcess[] = [];
  let rr: GatewayProcess;
  let api: AdminApi;
  const open: TestClient[] = [];
  let n = 0;

  const token = (user: string, name = user) => hsToken({ sub: user, biz: BIZ, name });
  async function connect(via: GatewayProcess, user = `u${++n}`, opts: Parameters<typeof TestClient.open>[1] = {}) {
    const r = await TestClient.open(via.wsUrl, { token: token(user, `Name ${user}`), label: user, ...opts });
    open.push(r.client);
    return { ...r, user };
  }
  const backends = async (via: GatewayProcess) => (await adminApi(via.adminUrl).get('/api/backends')).body as { strategy: string; items: BackendItem[] };
  /** every node registered, healthy, and its reported load as given */
  const settled = (via: GatewayProcess, pred: (items: BackendItem[]) => boolean, what: string, timeoutMs = 10000) =>
    eventually(
      what,
      async () => {
        const { items } = await backends(via);
        return pred(items) ? items : undefined;
      },
      timeoutMs,
    );

  before(async () => {
    nodes.push(
      ...(await Promise.all([0, 1, 2].map((i) => startGateway({ ...nodeEnv, GATEWAY_NODE_ID: `bal-node-${i}-${prefixes.GATEWAY_PUSH_GROUP_ID.slice(-8)}` })))),
    );
    rr = await startGateway(balancerEnv('round_robin'));
    api = adminApi(rr.adminUrl);
    await settled(rr, (items) => items.filter((i) => i.healthy).length === 3, 'three healthy nodes behind the balancer');
  }, H);

  after(async () => {
    for (const c of open) c.terminate();
    await Promise.all([rr, ...nodes].map((p) => p?.stop('SIGTERM')));
    await cleanupPrefixes(prefixes);
  }, H);

  it('round robin spreads links evenly; frames flow both ways through the proxy; the node sees the client address', H, async () => {
    const got = await Promise.all(Array.from({ length: 6 }, () => connect(rr)));
    const per = new Map<string, number>();
    for (const g of got) per.set(g.connected.node, (per.get(g.connected.node) ?? 0) + 1);
    assert.deepEqual([...per.values()], [2, 2, 2], `links per node: ${JSON.stringify([...per])}`);
    // req -> ack (echo) and a push, through the balancer's bytes pipe
    const first = got[0];
    const ack = await first.client.request('r1', { echo: 'hi' });
    assert.equal(ack.code, 0);
    const pushed = await api.push({ bizId: BIZ, to: { users: [first.user] }, body: { hello: 'through the balancer' } });
    assert.equal(pushed.status, 202, pushed.text);
    assert.deepEqual((await first.client.next('push')).body, { hello: 'through the balancer' });
    // a client on its own source address: the node records that address (X-Forwarded-For from a trusted proxy)
    const other = await connect(rr, undefined, { localAddress: '127.0.0.7' });
    const session = await api.get(`/api/clients/${other.connected.sid}`);
    assert.equal(session.status, 200, session.text);
    assert.equal(session.body.ip, '127.0.0.7');
  });

  it('refuses as a node would, before any node sees the upgrade, and passes on a node refusal as it is', H, async () => {
    const none = await upgradeRefusal(rr.wsUrl);
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    const bad = await upgradeRefusal(rr.wsUrl, { token: hsToken({ sub: 'x', biz: BIZ }, 'another-secret-0123456789') });
    assert.equal(bad.status, 401);
    const path = await upgradeRefusal(rr.wsUrl.replace('/ws', '/nope'), { token: token('x') });
    assert.equal(path.status, 404);
    // the node refuses a malformed resume cursor with 400: the client gets the node's own answer
    const cursor = await upgradeRefusal(rr.wsUrl, { token: token('x'), query: { resume: 'not-a-cursor' } });
    assert.equal(cursor.status, 400);
    assert.equal(cursor.body.error, 'bad_request');
    const m = await scrape(rr.adminUrl);
    assert.ok(metricValueOr(m, 'websocket_balancer_upgrades_total', { result: 'unauthorized' }, 0) >= 2);
    assert.ok(metricValueOr(m, 'websocket_balancer_upgrades_total', { result: 'node_400' }, 0) >= 1);
  });

  it('/api/dispatch names a healthy node for the bearer JWT; /api/clients, /api/query and kick work through the balancer', H, async () => {
    const d = await http(`${rr.adminUrl}/api/dispatch`, { headers: { Authorization: `Bearer ${token('disp')}` } });
    assert.equal(d.status, 200, d.text);
    const node = nodes.find((x) => x.nodeId === d.body.node);
    assert.ok(node, `dispatch named ${d.body.node}`);
    assert.equal(d.body.url, node.wsUrl);
    assert.equal((await http(`${rr.adminUrl}/api/dispatch`)).status, 401);
    assert.equal((await http(`${rr.adminUrl}/api/dispatch`, { headers: { Authorization: 'Bearer nonsense' } })).status, 401);

    const named = await connect(rr, 'findme');
    const clients = await api.clients({ name: 'findme' });
    assert.equal(clients.status, 200, clients.text);
    assert.deepEqual(
      clients.body.items.map((s: { sid: string }) => s.sid),
      [named.connected.sid],
    );
    const byName = await api.get('/api/query?name=Name%20findme');
    assert.equal(byName.status, 200, byName.text);
    assert.equal(byName.body.items[0]?.name, 'Name findme');
    const byId = await api.get(`/api/query?client_id=${named.connected.sid}`);
    assert.equal(byId.body.items[0]?.sid, named.connected.sid);
    assert.equal((await adminApi(rr.adminUrl, null).clients()).status, 401, 'the admin API needs the admin token on the balancer too');

    const kicked = await api.kick(named.connected.sid, 'balancer test');
    assert.equal(kicked.status, 200, kicked.text);
    assert.deepEqual(await named.client.closed, { code: CloseCode.KICKED, reason: 'balancer test' });
  });

  it('serves the admin UI at / and the overview with its own health view (snapshot and live stream)', H, async () => {
    const page = await http(`${rr.adminUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /<base href="\/" \/>/);
    const asset = /src="([^"]+\.js)"/.exec(page.text)?.[1];
    assert.ok(asset, page.text);
    const js = await fetch(`${rr.adminUrl}/${asset.replace(/^\.?\//, '')}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    await js.body?.cancel();

    const o = await api.get('/api/overview');
    assert.equal(o.status, 200, o.text);
    assert.equal(o.body.source, 'balancer');
    assert.equal(o.body.strategy, 'round_robin');
    assert.equal(o.body.nodes.length, 3);
    assert.ok(o.body.nodes.every((x: BackendItem) => x.healthy && x.registered && typeof x.lastCheck === 'number'));
    assert.ok(Array.isArray(o.body.backends) && Array.isArray(o.body.alerts) && Array.isArray(o.body.directives));
    assert.equal(typeof o.body.leader, 'string', 'the leader, from a node');
    assert.equal((await adminApi(rr.adminUrl, null).get('/api/overview')).status, 401);

    const ctl = new AbortController();
    const res = await fetch(`${rr.adminUrl}/api/live`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: overview\ndata: ')) text += new TextDecoder().decode((await reader.read()).value);
    const data = text.split('event: overview\ndata: ')[1];
    ctl.abort();
    assert.match(data, /"source":"balancer"/);
  });

  it('least_conn sends new links to the emptier nodes; consistent_hash keeps a user on one node; balancers run side by side', H, async () => {
    const lc = await startGateway(balancerEnv('least_conn'));
    const ch = await startGateway(balancerEnv('consistent_hash'));
    try {
      await Promise.all([lc, ch].map((b) => settled(b, (items) => items.filter((i) => i.healthy).length === 3, 'three healthy nodes')));
      // load one node with direct links, and wait until its report says so
      const full = nodes[0];
      const before = (await backends(lc)).items;
      const base = before.find((i) => i.id === full.nodeId)!.links;
      await Promise.all(Array.from({ length: 12 }, () => connect(full)));
      await settled(lc, (items) => items.find((i) => i.id === full.nodeId)!.links >= base + 12, 'the loaded node reporting its links');
      const spread = await Promise.all(Array.from({ length: 6 }, () => connect(lc)));
      assert.ok(
        spread.every((s) => s.connected.node !== full.nodeId),
        `least_conn sent a link to the loaded node: ${spread.map((s) => s.connected.node)}`,
      );
      // six upgrades at once: each counts the picks made before it, so they do not all land on one node
      const perNode = new Map<string, number>();
      for (const s of spread) perNode.set(s.connected.node, (perNode.get(s.connected.node) ?? 0) + 1);
      assert.ok(perNode.size === 2 && [...perNode.values()].every((k) => k >= 2), `concurrent links per node: ${JSON.stringify([...perNode])}`);

      const users = Array.from({ length: 12 }, (_, i) => `hash-user-${i}`);
      const homes = new Map<string, string>();
      for (const u of users) {
        const links = await Promise.all([0, 1, 2].map(() => connect(ch, u)));
        const at = new Set(links.map((l) => l.connected.node));
        assert.equal(at.size, 1, `${u}'s links landed on ${[...at]}`);
        homes.set(u, [...at][0]);
      }
      assert.ok(new Set(homes.values()).size >= 2, 'users spread over the nodes');
      // another balancer with the same strategy agrees: the choice is a function of the user and the nodes
      const ch2 = await startGateway(balancerEnv('consistent_hash'));
      try {
        await settled(ch2, (items) => items.filter((i) => i.healthy).length === 3, 'three healthy nodes');
        for (const u of users.slice(0, 4)) assert.equal((await connect(ch2, u)).connected.node, homes.get(u));
      } finally {
        await ch2.stop();
      }
    } finally {
      await Promise.all([lc.stop(), ch.stop()]);
    }
  });

  it(
    'a killed node: upgrades go to the others at once, its proxied links close, it shows unhealthy within the check interval and healthy after a restart',
    H,
    async () => {
      const victim = nodes[2];
      const before = await Promise.all(Array.from({ length: 6 }, () => connect(rr)));
      const onVictim = before.filter((b) => b.connected.node === victim.nodeId);
      assert.ok(onVictim.length >= 1);
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      // its links are closed by the balancer (the node's sockets are gone): the clients can reconnect
      for (const v of onVictim) assert.equal((await v.client.closed).code, 1006);
      // its registration lives on until the lease ends, but no upgrade fails: each is retried on a live node
      const after = await Promise.all(Array.from({ length: 6 }, () => connect(rr)));
      assert.ok(after.every((a) => a.connected.node !== victim.nodeId));
      const down = await settled(rr, (items) => items.some((i) => i.id === victim.nodeId && !i.healthy), 'the killed node unhealthy', CHECK_MS * 3);
      assert.ok(Date.now() - killedAt <= CHECK_MS + 1500, `unhealthy after ${Date.now() - killedAt} ms (check interval ${CHECK_MS} ms)`);
      assert.equal(down.filter((i) => i.healthy).length, 2);

      const back = await startGateway({ ...victim.env });
      nodes[2] = back;
      await settled(rr, (items) => items.some((i) => i.id === back.nodeId && i.healthy && i.registered), 'the restarted node healthy', CHECK_MS * 5);
      const again = await Promise.all(Array.from({ length: 6 }, () => connect(rr)));
      assert.ok(
        again.some((a) => a.connected.node === back.nodeId),
        'the restarted node takes links again',
      );
    },
  );

  it('a draining node gets no new links; the balancer answers 503 when no node takes any; SIGTERM ends it cleanly', H, async () => {
    const drained = nodes[0];
    const res = await api.post(`/api/nodes/${drained.nodeId}/drain`, {});
    assert.equal(res.status, 202, res.text);
    await settled(rr, (items) => items.find((i) => i.id === drained.nodeId)?.state === 'draining', 'the node draining');
    const got = await Promise.all(Array.from({ length: 6 }, () => connect(rr)));
    assert.ok(got.every((g) => g.connected.node !== drained.nodeId));
    assert.equal((await api.post(`/api/nodes/${drained.nodeId}/undrain`, {})).status, 202);
    await settled(rr, (items) => items.find((i) => i.id === drained.nodeId)?.state === 'running', 'the node running again');

    // a balancer whose nodes are not there: 503 with Retry-After, and /health says so
    const lonely = await startGateway({ ...balancerEnv('round_robin'), ...uniquePrefixes('bal-empty') });
    try {
      const refused = await upgradeRefusal(lonely.wsUrl, { token: token('nobody') });
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error, 'no_node');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal((await http(`${lonely.adminUrl}/health`)).status, 503);
    } finally {
      assert.deepEqual(await lonely.stop('SIGTERM'), { code: 0, signal: null });
    }
    const health = await http(`${rr.adminUrl}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.nodes.healthy, 3);

    // a balancer stopped with links open: exits 0 and closes them (their clients reconnect, to another balancer)
    const temp = await startGateway(balancerEnv('round_robin'));
    await settled(temp, (items) => items.filter((i) => i.healthy).length === 3, 'three healthy nodes');
    const held = await Promise.all(Array.from({ length: 3 }, () => connect(temp)));
    assert.deepEqual(await temp.stop('SIGTERM'), { code: 0, signal: null });
    for (const h of held) assert.ok([1001, 1006].includes((await h.client.closed).code));
  });
});
