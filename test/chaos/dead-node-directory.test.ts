import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi } from '../fixtures/admin';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

/**
 * Found by `make chaos` (case 6): the links of a node killed with SIGKILL stay in the directory
 * (`GET /api/clients`, `GET /api/clients/:id` 200 naming the dead node) for as long as no node
 * with the same id starts again: only a node's own boot calls SessionStore.removeNode, and each
 * node's reconciler looks only at its own `gw:n:<node>`. The dead node's etcd lease (10 s) is
 * gone long before this test looks (15 s after the kill). README: `/api/clients` lists "sessions
 * across the cluster"; docs/architecture.md: `gw:n:<node>` is kept for the "cleanup of a crashed
 * node's sessions". Expected: 404 once the cluster knows the node is gone; observed: 200.
 */
describe('directory: the links of a node killed with SIGKILL leave the directory (make chaos, case 6)', { timeout: 90_000 }, () => {
  const iso = uniquePrefixes('chaos-dead');
  let a: GatewayProcess;
  let b: GatewayProcess;
  let client: TestClient | undefined;

  before(async () => {
    const env = { ...iso, GATEWAY_PUSH_CONSUME: 'false', GATEWAY_SESSION_RECONCILE_INTERVAL_MS: '1000', GATEWAY_LOG_LEVEL: 'warn' };
    [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
  });
  after(async () => {
    client?.terminate();
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanupPrefixes(iso);
  });

  it('a link of the killed node leaves the directory within the lease TTL and two sweeps', async () => {
    const opened = await TestClient.open(b.wsUrl, { token: hsToken({ sub: 'dead-node-user', biz: 'dn' }) });
    client = opened.client;
    const sid = opened.connected.sid as string;
    const api = adminApi(a.adminUrl);
    assert.equal((await api.client(sid)).status, 200, 'listed while its node lives');
    await b.stop('SIGKILL');
    await client.closed;
    const killedAt = Date.now();
    // etcd drops the node when its lease (10 s) ends; then two sweeps 1 s apart remove its sessions
    await eventually("the dead node's link to leave the directory", async () => ((await api.client(sid)).status === 404 ? true : undefined), 20000, 200);
    const nodes = await api.get('/api/nodes');
    assert.ok(!(nodes.body.items as { id: string }[]).some((n) => n.id === b.nodeId), 'the dead node is gone from /api/nodes too');
    assert.ok(Date.now() - killedAt < 20000);
  });
});
