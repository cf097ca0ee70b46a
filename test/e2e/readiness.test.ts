import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminApi, AdminApi, http, HttpReply } from '../fixtures/admin';
import { PrivateEtcd, startPrivateEtcd } from '../fixtures/etcd-server';
import { eventually, freePort, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { PrivateRedis, startPrivateRedis } from '../fixtures/redis-server';
import { hsToken } from '../fixtures/tokens';
import { TestClient, upgradeRefusal } from '../fixtures/ws-client';

const T = { timeout: 30000 };
const H = { timeout: 40000 };

/**
 * One cluster node on an etcd and a Redis of the test's own, with Kafka at a port nothing
 * listens on (so its consumer is off: it could not join a group at boot; pushes come through
 * the API). The dependencies are taken away one after the other: Kafka is down from the start,
 * then etcd goes, then Redis. Readiness must fail only when links can no longer be served.
 */
describe('readiness: 503 only when the node cannot serve links', () => {
  const prefixes = uniquePrefixes('ready');
  let etcd: PrivateEtcd;
  let redis: PrivateRedis;
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: TestClient[] = [];

  before(async () => {
    [etcd, redis] = await Promise.all([startPrivateEtcd(), startPrivateRedis()]);
    gw = await startGateway({
      ...prefixes,
      GATEWAY_ETCD_ENDPOINTS: etcd.endpoint,
      GATEWAY_REDIS_URL: redis.url,
      GATEWAY_KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      GATEWAY_PUSH_CONSUME: 'false',
    });
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    // its etcd and Redis are gone: a drain would only wait on them, and the drain is not under test here
    await gw?.stop('SIGKILL');
    await Promise.all([etcd?.kill(), redis?.kill()]);
    await cleanupPrefixes(prefixes);
  }, H);

  /** a new link connects and a push through the API reaches it */
  async function serves(): Promise<void> {
    const biz = `ready-${randomUUID().slice(0, 8)}`;
    const { client } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub: 'u', biz }) });
    clients.push(client);
    const r = await api.push({ bizId: biz, to: { users: ['u'] }, body: 'still serving' });
    assert.equal(r.status, 202, r.text);
    assert.equal((await client.next('push')).body, 'still serving');
  }

  /** /health once it reports exactly `down` as down (probes are polled: no event says a dependency went away) */
  const healthWithDown = (down: string[]): Promise<HttpReply> =>
    eventually(
      `/health to report ${down.join(' and ')} down`,
      async () => {
        const r = await http(`${gw.adminUrl}/health`);
        return r.status === 503 &&
          Object.keys(r.body.error ?? {})
            .sort()
            .join() === [...down].sort().join()
          ? r
          : undefined;
      },
      10000,
      100,
    );

  const ready = () => http(`${gw.adminUrl}/health/ready`);

  it('Kafka unreachable: /health is 503 naming kafka, /health/ready is 200, links connect and pushes flow', T, async () => {
    const health = await healthWithDown(['kafka']);
    assert.equal(health.body.error.kafka.status, 'down', health.text);
    assert.equal(health.body.info?.redis?.status, 'up', health.text);
    assert.equal(health.body.info?.etcd?.status, 'up', health.text);
    const r = await ready();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ok');
    assert.equal(r.body.info?.redis?.status, 'up', r.text);
    await serves();
    const nodes = await api.get('/api/nodes');
    assert.equal(nodes.status, 200, nodes.text);
    assert.ok(
      nodes.body.items.some((n: { id: string }) => n.id === gw.nodeId),
      `node ${gw.nodeId} not in ${nodes.text}`,
    );
  });

  it('etcd down: /health is 503 naming etcd, /health/ready stays 200, GET /api/nodes is 503 naming etcd, links connect and pushes flow', T, async () => {
    await etcd.kill();
    const health = await healthWithDown(['etcd', 'kafka']);
    assert.equal(health.body.error.etcd.status, 'down', health.text);
    assert.equal(health.body.info?.redis?.status, 'up', health.text);
    const r = await ready();
    assert.equal(r.status, 200, r.text);
    const nodes = await api.get('/api/nodes');
    assert.equal(nodes.status, 503, nodes.text);
    assert.equal(nodes.body.error, 'unavailable', nodes.text);
    assert.match(nodes.body.message, /etcd/);
    assert.ok(nodes.body.message.includes(etcd.endpoint), `the message should name the endpoint ${etcd.endpoint}: ${nodes.body.message}`);
    await serves();
  });

  it('Redis down: /health/ready is 503 naming redis, and upgrades are refused with 503', T, async () => {
    await redis.kill();
    const r = await eventually(
      '/health/ready to fail',
      async () => {
        const reply = await ready();
        return reply.status === 503 ? reply : undefined;
      },
      10000,
      100,
    );
    assert.equal(r.body.error?.redis?.status, 'down', r.text);
    assert.deepEqual(Object.keys(r.body.error), ['redis'], 'readiness checks only what serving needs');
    const refused = await upgradeRefusal(gw.wsUrl, { token: hsToken({ sub: 'late', biz: 'ready' }) });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error, 'unavailable');
    assert.equal((await http(`${gw.adminUrl}/health/live`)).status, 200);
  });
});
