import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser, chromium, Page } from 'playwright-core';
import { adminApi, AdminApi, http } from '../fixtures/admin';
import { eventually, freePort, ROOT, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';

// scripts/demo.js is plain JS (it is what `make demo` runs): loaded from the repo, not compiled
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startDemo } = require(path.join(ROOT, 'scripts/demo.js')) as { startDemo(o: Record<string, unknown>): Promise<Demo> };

interface DemoProc {
  pid: number;
  exited: boolean;
}
interface Demo {
  options: { adminToken: string; biz: string; checkIntervalMs: number };
  nodes: { id: string; wsUrl: string; adminUrl: string; proc: DemoProc }[];
  pushes: { type: 'push'; client: string; mid: string; body: { n: number }; seq?: number }[];
  urls: { ui: string; balancer: string; ws: string };
  users: string[];
  killNode(i: number): Promise<unknown>;
  restartNode(i: number): Promise<DemoProc>;
  stop(): Promise<void>;
}

interface BackendItem {
  id: string;
  healthy: boolean;
  registered: boolean;
  proxied: number;
}

const H = { timeout: 120000 };
const SHOTS = path.join(ROOT, 'test-output/ui');
const CHECK_MS = 2000;
const CLIENTS = 6;

describe('make demo: the failover walkthrough (three nodes, the balancer, the example backend, named CLI clients)', () => {
  const isolation = uniquePrefixes('demo');
  let demo: Demo;
  let api: AdminApi;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-demo-'));

  before(async () => {
    const ports = [];
    for (let i = 0; i < 3; i++) ports.push([await freePort(), await freePort()]);
    demo = await startDemo({
      nodePorts: ports,
      balancerPort: await freePort(),
      clients: CLIENTS,
      checkIntervalMs: CHECK_MS,
      etcdPrefix: isolation.GATEWAY_ETCD_PREFIX,
      redisPrefix: isolation.GATEWAY_REDIS_KEY_PREFIX,
      groupId: isolation.GATEWAY_PUSH_GROUP_ID,
      backendPrefix: `${isolation.GATEWAY_ETCD_PREFIX}backends/`,
      nodePrefix: `demo-${isolation.GATEWAY_PUSH_GROUP_ID.slice(-8)}`,
      logDir,
    });
    api = adminApi(demo.urls.balancer, demo.options.adminToken);
    fs.mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(15000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, H);

  after(async () => {
    await browser?.close();
    await demo?.stop();
    await cleanupPrefixes(isolation);
    fs.rmSync(logDir, { recursive: true, force: true });
  }, H);

  /** the users' live sessions, by node (the dead node's entries are left out) */
  const sessions = async (exclude?: string) => {
    const res = await api.clients({ biz: demo.options.biz, limit: 500 });
    assert.equal(res.status, 200, res.text);
    return (res.body.items as { userId: string; node: string; name: string }[]).filter((s) => s.node !== exclude);
  };
  const backends = async () => ((await api.get('/api/backends')).body as { items: BackendItem[] }).items;

  it('serves the UI and lists the named clients through the balancer', H, async () => {
    const all = await eventually(
      'every demo client connected',
      async () => {
        const s = await sessions();
        return new Set(s.map((x) => x.userId)).size === CLIENTS ? s : undefined;
      },
      20000,
    );
    assert.deepEqual([...new Set(all.map((s) => s.name))].sort(), [...demo.users].sort());
    const html = await http(demo.urls.ui);
    assert.equal(html.status, 200);
    assert.match(html.text, /<html/i);

    // as a person: the balancer's UI, signed in, lists the named clients and the three healthy nodes
    await page.goto(demo.urls.ui);
    await page.getByLabel('Admin token').fill(demo.options.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    for (const n of demo.nodes) await page.locator(`tr[data-node="${n.id}"][data-healthy="true"]`).waitFor();
    for (const u of demo.users) await page.locator(`[data-testid="clients"] tr[data-name="${u}"]`).first().waitFor();
    await shot('demo-1-balancer-signed-in');
  });

  it(
    'kill a node: its clients come back through the balancer on the others with nothing lost; unhealthy within the check interval, healthy after a restart',
    H,
    async (t) => {
      const before = await sessions();
      const byNode = new Map<string, number>();
      for (const s of before) byNode.set(s.node, (byNode.get(s.node) ?? 0) + 1);
      const victimIndex = demo.nodes.findIndex((n) => (byNode.get(n.id) ?? 0) > 0);
      const victim = demo.nodes[victimIndex];
      const moving = byNode.get(victim.id)!;

      // a push to every user every 50 ms through the balancer's API, before, during and after the kill
      let n = 0;
      let pushing = true;
      const sent: string[] = [];
      // a push the API did not accept may still have reached some users before the failure: not counted either way
      const unsure = new Set<string>();
      const pusher = (async () => {
        while (pushing) {
          const mid = `demo-${++n}`;
          const res = await api.push({ mid, bizId: demo.options.biz, to: { users: demo.users }, body: { n } });
          // accepted (202) means stored in every user's mailbox: it must reach every client
          if (res.status === 202) sent.push(mid);
          else unsure.add(mid);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await eventually('pushes flowing', async () => (sent.length >= 5 ? true : undefined), 10000);

      await demo.killNode(victimIndex);
      const killedAt = Date.now();
      await eventually(
        'the killed node unhealthy in /api/backends',
        async () => ((await backends()).some((b) => b.id === victim.id && !b.healthy) ? true : undefined),
        CHECK_MS * 3,
      );
      const unhealthyAfter = Date.now() - killedAt;
      // and the page shows it, without a reload
      await page.locator(`tr[data-node="${victim.id}"][data-healthy="false"]`).waitFor();
      await shot('demo-2-node-killed');
      assert.ok(unhealthyAfter <= CHECK_MS + 1500, `unhealthy after ${unhealthyAfter} ms (check interval ${CHECK_MS} ms)`);
      const back = await eventually(
        `the ${moving} clients of ${victim.id} back on the other nodes`,
        async () => {
          const s = await sessions(victim.id);
          return new Set(s.map((x) => x.userId)).size === CLIENTS ? s : undefined;
        },
        30000,
      );
      assert.ok(back.every((s) => s.node !== victim.id));

      await eventually('a few more pushes after the failover', async () => (sent.length >= n - 1 && n > 40 ? true : undefined), 20000);
      pushing = false;
      await pusher;
      // every accepted push reached every client exactly once, in order (the SDK resumed from its cursor)
      await eventually(
        'every accepted push at every client',
        async () => (demo.users.every((u) => demo.pushes.filter((p) => p.client === u).length >= sent.length) ? true : undefined),
        20000,
      );
      for (const u of demo.users) {
        const got = demo.pushes.filter((p) => p.client === u && !unsure.has(p.mid)).map((p) => p.mid);
        assert.deepEqual(got, sent, `${u}: ${got.length} pushes for ${sent.length} sent`);
      }

      await demo.restartNode(victimIndex);
      await eventually(
        'the restarted node healthy again',
        async () => ((await backends()).some((b) => b.id === victim.id && b.healthy && b.registered) ? true : undefined),
        CHECK_MS * 4,
      );
      await page.locator(`tr[data-node="${victim.id}"][data-healthy="true"]`).waitFor();
      await shot('demo-3-node-back');
      assert.deepEqual(pageErrors, []);
      t.diagnostic(
        `${moving} of ${CLIENTS} clients moved off ${victim.id}; unhealthy ${unhealthyAfter} ms after SIGKILL (check interval ${CHECK_MS} ms); ${sent.length} pushes x ${CLIENTS} users, all received once and in order`,
      );
    },
  );
});
