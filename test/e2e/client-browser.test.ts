import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser, chromium, Page } from 'playwright-core';
import { adminApi, AdminApi } from '../fixtures/admin';
import { eventually, GatewayProcess, ROOT, startGateway } from '../fixtures/gateway-process';
import { hsToken } from '../fixtures/tokens';

const T = { timeout: 30000 };
const H = { timeout: 60000 };
const BUNDLE = path.join(ROOT, 'dist/client/browser.js');

/** The page: imports the browser bundle as an ES module and exposes the class and a log of what happened. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
import { GatewayClient } from '/browser.js';
window.GatewayClient = GatewayClient;
document.title = 'ready';
</script>`;

/** What the page keeps on `window` for the test (no DOM types in this project: declared here). */
interface PageGlobals {
  GatewayClient: new (o: Record<string, unknown>) => {
    connect(): Promise<{ sid: string; node: string; url: string }>;
    request(body: unknown): Promise<{ code: number; body?: unknown }>;
    join(room: string): Promise<{ code: number }>;
    on(event: string, fn: (...a: unknown[]) => void): () => void;
    close(): Promise<void>;
    readonly state: string;
  };
  clients: Record<string, InstanceType<PageGlobals['GatewayClient']>>;
  nextPush: Record<string, Promise<unknown>>;
}

describe('client SDK in headless Chromium (dist/client/browser.js)', () => {
  let gw: GatewayProcess;
  let api: AdminApi;
  let server: http.Server;
  let pageUrl: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} is missing: node scripts/bundle.js builds it`);
    gw = await startGateway({ GATEWAY_MODE: 'embedded' });
    api = adminApi(gw.adminUrl);
    server = http.createServer((req, res) => {
      if (req.url === '/browser.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(fs.readFileSync(BUNDLE));
      } else if (req.url === '/favicon.ico') {
        res.writeHead(204).end();
      } else if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
    page = await browser.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(pageUrl);
    await page.waitForFunction(() => (globalThis as unknown as { document: { title: string } }).document.title === 'ready', undefined, { timeout: 10000 });
  }, H);

  after(async () => {
    await browser?.close();
    server?.close();
    await gw?.stop();
  }, H);

  /** Creates a client in the page (token as subprotocol bearer.<jwt>, the browser default) and connects it. */
  async function open(key: string, user: string, codec: 'json' | 'protobuf') {
    return page.evaluate(
      async ({ key, url, token, codec }) => {
        const w = globalThis as unknown as PageGlobals;
        w.clients ??= {};
        w.nextPush ??= {};
        const c = new w.GatewayClient({ url, token, codec, name: key });
        w.clients[key] = c;
        w.nextPush[key] = new Promise((resolve) => c.on('push', (p) => resolve(p)));
        const info = await c.connect();
        return { ...info, state: c.state };
      },
      { key, url: gw.wsUrl, token: hsToken({ sub: user, biz: 'web' }), codec },
    );
  }

  for (const codec of ['json', 'protobuf'] as const) {
    it(`${codec}: connects from the page, gets a push from POST /api/push, and the ack of a request`, T, async () => {
      const key = `c-${codec}`;
      const user = `browser-${codec}`;
      const info = await open(key, user, codec);
      assert.equal(info.state, 'connected', JSON.stringify(problems));
      assert.equal(info.node, gw.nodeId);
      const r = await api.push({ bizId: 'web', to: { users: [user] }, body: { hello: codec } });
      assert.equal(r.status, 202, r.text);
      const push = (await page.evaluate((k) => (globalThis as unknown as PageGlobals).nextPush[k], key)) as { mid: string; body: unknown; seq: number };
      assert.deepEqual(push.body, { hello: codec });
      assert.equal(push.seq, 1);
      const ack = await page.evaluate((k) => (globalThis as unknown as PageGlobals).clients[k].request({ from: 'the page', n: [1, 2] }), key);
      assert.deepEqual(ack, { code: 0, body: { from: 'the page', n: [1, 2] } });
      const joined = await page.evaluate((k) => (globalThis as unknown as PageGlobals).clients[k].join('room-1'), key);
      assert.equal(joined.code, 0);
      // the session the node holds is the page's: the token went as a subprotocol
      const links = await api.clients({ biz: 'web', user });
      assert.equal(links.body.items.length, 1, JSON.stringify(links.body));
      assert.deepEqual(problems, []);
    });
  }

  it('close() from the page ends the link: the node drops the session', T, async () => {
    await open('closing', 'browser-close', 'json');
    const state = await page.evaluate(async () => {
      const c = (globalThis as unknown as PageGlobals).clients.closing;
      await c.close();
      return c.state;
    });
    assert.equal(state, 'closed');
    // the node removes the session when it sees the close: no event tells the test, so read it back
    await eventually('the session to go', async () => ((await api.clients({ biz: 'web', user: 'browser-close' })).body.items.length === 0 ? true : undefined));
  });
});
