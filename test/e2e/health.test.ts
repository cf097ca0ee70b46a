import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { http, metricValue, scrape } from '../fixtures/admin';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { PrivateRedis, startPrivateRedis } from '../fixtures/redis-server';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 30000 };
const H = { timeout: 40000 };

describe('health and metrics (a node on a private Redis)', () => {
  const prefixes = uniquePrefixes('health');
  let redis: PrivateRedis;
  let gw: GatewayProcess;
  const clients: TestClient[] = [];

  before(async () => {
    redis = await startPrivateRedis();
    gw = await startGateway({ ...prefixes, GATEWAY_REDIS_URL: redis.url });
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
    await redis?.kill();
    await cleanupPrefixes(prefixes);
  }, H);

  it('/metrics passes promtool check metrics and counts distinct online users', T, async () => {
    const promtool = spawnSync('promtool', ['--version'], {
      encoding: 'utf8',
    });
    assert.ok(!promtool.error, 'promtool is not installed: run the Makefile setup (apt-get install -y prometheus) to get it');
    const open = async (sub: string, did: string) => {
      const { client } = await TestClient.open(gw.wsUrl, {
        token: hsToken({ sub, biz: 'm', did }),
      });
      clients.push(client);
      return client;
    };
    const text0 = await scrape(gw.adminUrl);
    assert.equal(metricValue(text0, 'websocket_gateway_online_users'), 0);
    await open('u1', 'phone');
    await open('u1', 'laptop');
    const u2 = await open('u2', 'phone');
    const text = await scrape(gw.adminUrl);
    const check = spawnSync('promtool', ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      timeout: 10000,
    });
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}`);
    assert.equal(metricValue(text, 'websocket_gateway_online_users'), 2);
    assert.equal(metricValue(text, 'websocket_gateway_connections'), 3);
    await u2.close();
    // the gauge follows the server's side of the close, which no event of the client's reports
    await eventually('online users to drop to 1', async () =>
      metricValue(await scrape(gw.adminUrl), 'websocket_gateway_online_users') === 1 ? true : undefined,
    );
  });

  it('/health turns 503 naming redis while Redis is away, and back to 200 when it returns; /health/live stays 200', T, async () => {
    const live = async () => {
      const r = await http(`${gw.adminUrl}/health/live`);
      assert.equal(r.status, 200, `/health/live answered ${r.status}`);
    };
    const up = await http(`${gw.adminUrl}/health`);
    assert.equal(up.status, 200, `expected all dependencies up (is Kafka running? scripts/deps.sh start): ${up.text}`);
    for (const dep of ['redis', 'etcd', 'kafka']) assert.equal(up.body.info?.[dep]?.status, 'up', `${dep} in ${up.text}`);

    await redis.kill();
    const down = await eventually(
      '/health to report redis down',
      async () => {
        await live();
        const r = await http(`${gw.adminUrl}/health`);
        return r.status === 503 ? r : undefined;
      },
      10000,
      100,
    );
    assert.equal(down.body.status, 'error');
    assert.equal(down.body.error?.redis?.status, 'down', down.text);
    assert.equal(down.body.error?.etcd, undefined, 'etcd is not down');
    assert.equal(down.body.error?.kafka, undefined, 'kafka is not down');
    await live();

    await redis.restart();
    const back = await eventually(
      '/health to recover',
      async () => {
        await live();
        const r = await http(`${gw.adminUrl}/health`);
        return r.status === 200 ? r : undefined;
      },
      15000,
      100,
    );
    assert.equal(back.body.info?.redis?.status, 'up');
  });
});
