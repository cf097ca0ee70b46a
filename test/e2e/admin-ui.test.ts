import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser, chromium, Page } from 'playwright-core';
import { adminApi } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, ROOT, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const H = { timeout: 60000 };
const T = { timeout: 30000 };
/** the etcd lease of the nodes: a SIGKILLed node leaves the registry within it */
const TTL_SEC = 3;
const SHOTS = path.join(ROOT, 'test-output/ui');

/**
 * The admin UI as an operator uses it, in headless Chromium against two real cluster nodes
 * (Redis, etcd): sign in, see the named clients, search one, kick it, push to another, and watch
 * a SIGKILLed node turn unhealthy. Every step leaves a screenshot in test-output/ui/.
 */
describe('admin UI in a browser (two cluster nodes)', () => {
  const prefixes = uniquePrefixes('adminui');
  const biz = `ui-${randomUUID().slice(0, 8)}`;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let browser: Browser;
  let page: Page;
  const clients: TestClient[] = [];
  /** what the page asked for that is not on the node it was served from (it must work offline) */
  const foreign: string[] = [];
  const pageErrors: string[] = [];
  /** every answer of 400 or more the page got: `<status> <method> <path>` */
  const failed: string[] = [];
  let loads = 0;
  const links: Record<string, { client: TestClient; sid: string }> = {};

  const shot = async (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  async function link(node: GatewayProcess, sub: string, name: string) {
    const { client, connected } = await TestClient.open(node.wsUrl, { token: hsToken({ sub, biz, name, did: `${sub}-laptop` }), label: sub });
    clients.push(client);
    links[sub] = { client, sid: connected.sid };
  }

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    const env = {
      ...prefixes,
      GATEWAY_ETCD_LEASE_TTL_SEC: String(TTL_SEC),
      GATEWAY_PUSH_CONSUME: 'false',
      GATEWAY_REBALANCE_ENABLED: 'false',
      GATEWAY_GOVERNANCE_LIVE_INTERVAL_MS: '500',
    };
    [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
    await link(a, 'alice', 'Alice Archer');
    await link(b, 'bob', 'Bob Builder');
    await link(a, 'carol', 'Carol Singer');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(15000);
    page.on('request', (r) => {
      if (!r.url().startsWith(`${a.adminUrl}/`)) foreign.push(r.url());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    });
    page.on('load', () => loads++);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      // the browser's own line for each failed answer is checked through `failed`
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
  }, H);
  after(async () => {
    await browser?.close();
    for (const c of clients) c.terminate();
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanupPrefixes(prefixes);
  }, H);

  it('refuses a wrong token with a clear message, then signs in with the admin token', T, async () => {
    await page.goto(`${a.adminUrl}/ui`);
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.getByTestId('signin-error');
    await error.waitFor();
    assert.match(await error.innerText(), /Wrong admin token.*401/);
    await shot('1-signin-refused');

    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="live"]', { hasText: 'live' }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('gateway.adminToken')"), ADMIN_TOKEN);
  });

  it('shows both nodes healthy, one leader, and the named clients with user, biz, device and node', T, async () => {
    for (const node of [a, b]) await page.locator(`tr[data-node="${node.nodeId}"][data-healthy="true"]`).waitFor();
    await page.locator('[data-testid="nodes"] .badge.leader').first().waitFor();
    assert.equal(await page.locator('[data-testid="nodes"] .badge.leader').count(), 1, 'exactly one leader badge');
    for (const sub of ['alice', 'bob', 'carol']) await page.locator(`tr[data-sid="${links[sub].sid}"]`).waitFor();
    const bob = page.locator(`tr[data-sid="${links.bob.sid}"]`);
    const cells = await bob.locator('td').allInnerTexts();
    assert.match(cells[0], /Bob Builder/);
    assert.deepEqual(cells.slice(1, 5), ['bob', biz, 'bob-laptop', b.nodeId]);
    await shot('2-signed-in');
  });

  it('searches by name (case-insensitive) and by client id', T, async () => {
    const search = page.getByTestId('client-search');
    await search.locator('select[name="mode"]').selectOption('name');
    await search.locator('input[name="q"]').fill('carol');
    await search.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-sid="${links.alice.sid}"]`).waitFor({ state: 'detached' });
    assert.deepEqual(await page.locator('[data-testid="clients"] tr[data-sid]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))), [
      'Carol Singer',
    ]);
    await shot('3-search-name');

    await search.locator('select[name="mode"]').selectOption('sid');
    await search.locator('input[name="q"]').fill(links.bob.sid);
    await search.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-sid="${links.bob.sid}"]`).waitFor();
    await page.locator(`tr[data-sid="${links.carol.sid}"]`).waitFor({ state: 'detached' });
    assert.equal(await page.locator('[data-testid="clients"] tr[data-sid]').count(), 1);

    await search.locator('select[name="mode"]').selectOption('name');
    await search.locator('input[name="q"]').fill('Carol');
    await search.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-sid="${links.carol.sid}"]`).waitFor();
  });

  it('kicks a client with a reason: its link closes with 4003 and that reason', T, async () => {
    const row = page.locator(`tr[data-sid="${links.carol.sid}"]`);
    await row.getByRole('button', { name: 'Kick…' }).click();
    await row.locator('input[name="reason"]').fill('kicked from the admin UI');
    await shot('4-kick-reason');
    await row.getByRole('button', { name: 'Kick', exact: true }).click();
    assert.deepEqual(await links.carol.client.closed, { code: 4003, reason: 'kicked from the admin UI' });
    await page
      .getByTestId('notice')
      .filter({ hasText: `kicked ${links.carol.sid}` })
      .waitFor();
    await row.waitFor({ state: 'detached' });
    await shot('5-kicked');
  });

  it('pushes to a user: its client receives the body, and the page shows the result', T, async () => {
    const push = page.getByTestId('push');
    await push.locator('input[name="bizId"]').fill(biz);
    await push.locator('select[name="kind"]').selectOption('users');
    await push.locator('input[name="target"]').fill('bob');
    await push.locator('textarea[name="body"]').fill('{"hello": "bob", "from": "admin UI"}');
    await push.getByRole('button', { name: 'Send push' }).click();
    const frame = await links.bob.client.next('push', 10000);
    assert.deepEqual(frame.body, { hello: 'bob', from: 'admin UI' });
    await push.getByTestId('push-result').waitFor();
    await shot('6-pushed');

    // a bad body is the page's own error; a bad envelope is the API's 400 with its problems
    await push.locator('textarea[name="body"]').fill('{not json');
    await push.getByRole('button', { name: 'Send push' }).click();
    await push.locator('.error', { hasText: 'not JSON' }).waitFor();
    await push.locator('textarea[name="body"]').fill('1');
    await push.locator('input[name="bizId"]').fill('');
    await push.getByRole('button', { name: 'Send push' }).click();
    await push.locator('.error', { hasText: '400 bad_request' }).waitFor();
    await push.locator('.error code', { hasText: 'bizId' }).waitFor();
    await shot('7-push-refused');
  });

  it("shows an operator's drain: the leader's directive, the node draining, and the moves it made", T, async () => {
    const r = await adminApi(a.adminUrl).post(`/api/nodes/${a.nodeId}/drain`, {});
    assert.equal(r.status, 202, r.text);
    // alice is moved off the draining node: a redirect, then close 4010 (moved)
    const closed = await links.alice.client.closed;
    assert.equal(closed.code, 4010, JSON.stringify(closed));
    const operator = page.getByTestId('operator');
    await operator.locator('tr', { hasText: a.nodeId }).locator('.badge.action-drain').waitFor();
    await operator.locator('tr[data-move]', { hasText: 'manual' }).waitFor();
    assert.match(await operator.locator('tr[data-move]').first().innerText(), new RegExp(`${a.nodeId}\\s+manual\\s+1`));
    await page.locator(`tr[data-node="${a.nodeId}"]`, { hasText: 'draining' }).waitFor();
    await shot('8-drained');
  });

  it('shows a SIGKILLed node turn unhealthy without a reload', H, async () => {
    const before = loads;
    assert.deepEqual(await b.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
    // the lease expires within TTL_SEC; the page's next overview shows the node unhealthy, still listed
    const row = page.locator(`tr[data-node="${b.nodeId}"][data-healthy="false"]`);
    await row.waitFor({ timeout: (TTL_SEC + 10) * 1000 });
    assert.match(await row.innerText(), /unhealthy[\s\S]*gone from the registry/);
    await page.locator(`tr[data-node="${a.nodeId}"][data-healthy="true"]`).waitFor();
    assert.equal(loads, before, 'no page reload');
    await shot('9-node-unhealthy');
  });

  it('asked for nothing outside the node it was served from, and raised no script errors', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
    // the wrong token at sign-in, and the refused envelope: nothing else failed
    assert.deepEqual(failed, ['401 GET /api/overview', '400 POST /api/push']);
  });
});
