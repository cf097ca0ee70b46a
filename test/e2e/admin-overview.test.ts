import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi, AdminApi, http } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, startGateway } from '../fixtures/gateway-process';
import { SseReader } from '../fixtures/sse';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 20000 };
const H = { timeout: 40000 };

/** One embedded node: what the admin UI reads (overview, live stream, query) and how /ui is served. */
describe('admin UI routes: /api/overview, /api/live, /api/query, /ui', () => {
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: TestClient[] = [];

  before(async () => {
    gw = await startGateway({ GATEWAY_MODE: 'embedded', GATEWAY_PUSH_BIZ_IDS: 'shop', GATEWAY_GOVERNANCE_LIVE_INTERVAL_MS: '300' });
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
  }, H);

  async function link(sub: string, name: string): Promise<string> {
    const { client, connected } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub, biz: 'shop', name, did: `${sub}-phone` }) });
    clients.push(client);
    return connected.sid;
  }

  it('answers 401 without the admin token on every route the UI reads', T, async () => {
    const bare = adminApi(gw.adminUrl, null);
    const wrong = adminApi(gw.adminUrl, 'not-the-admin-token');
    for (const path of ['/api/overview', '/api/live', '/api/query?name=x', '/api/clients']) {
      for (const who of [bare, wrong]) {
        const r = await who.get(path);
        assert.equal(r.status, 401, `${path}: ${r.text}`);
        assert.equal(r.body.error, 'unauthorized', path);
      }
    }
    const sse = await SseReader.open(`${gw.adminUrl}/api/live`, null);
    assert.equal(sse.status, 401);
  });

  it('GET /api/overview is one snapshot of this node: itself healthy and leading, its links and users', T, async () => {
    await link('ov-1', 'Overview One');
    const r = await api.get('/api/overview');
    assert.equal(r.status, 200, r.text);
    const o = r.body;
    assert.deepEqual(Object.keys(o).sort(), ['alerts', 'at', 'backends', 'directives', 'leader', 'moves', 'nodes', 'self', 'source'].sort());
    assert.equal(o.source, 'node');
    assert.equal(o.self, gw.nodeId);
    assert.equal(o.leader, gw.nodeId, 'an embedded node is its own leader');
    assert.ok(Math.abs(Date.now() - o.at) < 5000);
    assert.equal(o.nodes.length, 1);
    const [n] = o.nodes;
    assert.deepEqual(Object.keys(n).sort(), ['adminUrl', 'capacity', 'healthy', 'id', 'lastCheck', 'leader', 'online', 'state', 'users', 'wsUrl'].sort());
    assert.deepEqual([n.id, n.healthy, n.leader, n.state], [gw.nodeId, true, true, 'running']);
    assert.equal(n.wsUrl, gw.wsUrl);
    assert.equal(typeof n.lastCheck, 'number');
    for (const key of ['backends', 'alerts', 'directives', 'moves']) assert.ok(Array.isArray(o[key]), key);
  });

  it('GET /api/live sends an overview at once and then every governance.liveIntervalMs, as text/event-stream', T, async () => {
    const sse = await SseReader.open(`${gw.adminUrl}/api/live`, ADMIN_TOKEN);
    try {
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(sse.headers.get('cache-control'), 'no-store');
      const first = JSON.parse((await sse.next('overview', 3000)).data);
      assert.equal(first.source, 'node');
      assert.equal(first.self, gw.nodeId);
      assert.ok(Array.isArray(first.nodes) && first.nodes[0].id === gw.nodeId);
      const second = JSON.parse((await sse.next('overview', 3000)).data);
      assert.ok(second.at > first.at, 'a fresh snapshot each interval');
      assert.ok(sse.comments.includes('connected'), `comments: ${sse.comments}`);
    } finally {
      sse.close();
    }
    assert.equal(await sse.ended, 'aborted');
    // the node keeps serving after a reader went away mid-stream
    assert.equal((await api.get('/api/overview')).status, 200);
  });

  it('GET /api/query finds a link by client_id and by a name substring (case-insensitive)', T, async () => {
    const sid = await link('q-1', 'Quentin Query');
    await link('q-2', 'Other Person');
    const byId = await api.get(`/api/query?client_id=${encodeURIComponent(sid)}`);
    assert.equal(byId.status, 200, byId.text);
    assert.deepEqual(
      byId.body.items.map((s: { sid: string; userId: string; name: string; deviceId: string }) => [s.sid, s.userId, s.name, s.deviceId]),
      [[sid, 'q-1', 'Quentin Query', 'q-1-phone']],
    );
    const byName = await api.get('/api/query?name=QUENTIN');
    assert.equal(byName.status, 200, byName.text);
    assert.deepEqual(
      byName.body.items.map((s: { sid: string }) => s.sid),
      [sid],
    );
    const none = await api.get('/api/query?client_id=no-such-link');
    assert.deepEqual([none.status, none.body], [200, { items: [] }]);
  });

  it('GET /api/query refuses neither, both, empty and unknown parameters with 400 naming the problem', T, async () => {
    const cases: [string, string, RegExp][] = [
      ['', '(query)', /client_id=<sid> or name=<substring>/],
      ['?client_id=a&name=b', '(query)', /not both/],
      ['?name=', 'name', /./],
      ['?client=a', '(body)', /client/],
      ['?name=a&limit=0', 'limit', /./],
    ];
    for (const [qs, field, message] of cases) {
      const r = await api.get(`/api/query${qs}`);
      assert.equal(r.status, 400, `${qs}: ${r.text}`);
      assert.equal(r.body.error, 'bad_request', qs);
      assert.ok(
        r.body.problems.some((p: { field: string; message: string }) => p.field === field && message.test(p.message)),
        `${qs}: ${JSON.stringify(r.body.problems)}`,
      );
    }
  });

  it('serves the page at /ui and /ui/ without auth, no-cache, and its hashed assets as immutable with their content types', T, async () => {
    for (const path of ['/ui', '/ui/']) {
      const page = await http(`${gw.adminUrl}${path}`);
      assert.equal(page.status, 200, path);
      assert.match(page.text, /<base href="\/ui\/" \/>/, 'relative asset links resolve under /ui/');
      assert.match(page.text, /<div id="app">/);
    }
    const res = await fetch(`${gw.adminUrl}/ui`);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    const js = /src="\.\/(app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const css = /href="\.\/(app-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    assert.ok(js && css, html);
    for (const [file, type] of [
      [js, 'text/javascript; charset=utf-8'],
      [css, 'text/css; charset=utf-8'],
    ]) {
      const a = await fetch(`${gw.adminUrl}/ui/${file}`);
      assert.equal(a.status, 200, file);
      assert.equal(a.headers.get('content-type'), type, file);
      assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable', file);
      const etag = a.headers.get('etag');
      assert.ok(etag && (await a.arrayBuffer()).byteLength > 0, file);
      const again = await fetch(`${gw.adminUrl}/ui/${file}`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304, file);
    }
    const head = await fetch(`${gw.adminUrl}/ui/${js}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has no body');
  });

  it('answers a missing asset or a path out of the bundle with 404, and the node keeps serving', T, async () => {
    for (const path of ['/ui/no-such-file.js', '/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json', '/ui/%ZZ']) {
      const r = await http(`${gw.adminUrl}${path}`);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status} ${r.text}`);
      assert.doesNotMatch(r.text, /"name": "ws-gateway"/, path);
    }
    assert.equal((await http(`${gw.adminUrl}/ui`)).status, 200);
  });
});

describe('admin UI routes: shutdown with live streams open', () => {
  it('a SIGTERM ends every open /api/live stream and the node exits 0', H, async () => {
    const gw = await startGateway({ GATEWAY_MODE: 'embedded', GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '3000' });
    const readers: SseReader[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await SseReader.open(`${gw.adminUrl}/api/live`, ADMIN_TOKEN);
        readers.push(r);
        await r.next('overview', 3000);
      }
      const started = Date.now();
      const exit = await gw.stop('SIGTERM', 15000);
      assert.deepEqual(exit, { code: 0, signal: null }, gw.logs.slice(-20).join('\n'));
      assert.ok(Date.now() - started < 8000, `shutdown took ${Date.now() - started} ms`);
      for (const r of readers) assert.equal(await r.ended, 'ended', 'the stream ended cleanly, not reset');
    } finally {
      for (const r of readers) r.close();
      await gw.stop('SIGKILL');
    }
  });
});
