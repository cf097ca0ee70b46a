import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { adminApi, http, metricValueOr, scrape } from '../fixtures/admin';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { PrivateRedis, startPrivateRedis } from '../fixtures/redis-server';
import { hsToken } from '../fixtures/tokens';
import { AnyFrame, TestClient } from '../fixtures/ws-client';

const T = { timeout: 60000 };
const H = { timeout: 60000 };

/**
 * Faults injected into a Redis of the test's own (the shared one is never touched), under two
 * nodes: pushes go in through node A's API, the clients hold their links on node B.
 */
describe('faults: no silent gap on open links, a directory that heals (two nodes, private Redis)', () => {
  const aofDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-faults-'));
  let redis: PrivateRedis;
  let a: GatewayProcess;
  let b: GatewayProcess;
  const clients: TestClient[] = [];
  const biz = 'f';

  before(async () => {
    redis = await startPrivateRedis(undefined, { aofDir });
    const env = { ...uniquePrefixes('faults'), GATEWAY_REDIS_URL: redis.url, GATEWAY_PUSH_CONSUME: 'false', GATEWAY_SESSION_RECONCILE_INTERVAL_MS: '1000' };
    [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.kill();
    fs.rmSync(aofDir, { recursive: true, force: true });
  }, H);

  const open = async (user: string) => {
    const { client, connected } = await TestClient.open(b.wsUrl, { token: hsToken({ sub: user, biz }) });
    clients.push(client);
    return { client, sid: connected.sid as string };
  };
  const push = async (user: string, i: number) => {
    const r = await adminApi(a.adminUrl).post('/api/push', { bizId: biz, to: { users: [user] }, body: { i } });
    assert.equal(r.status, 202, r.text);
  };
  /** the next `n` push or resync frames */
  const frames = async (c: TestClient, n: number) => {
    const got: AnyFrame[] = [];
    while (got.length < n) {
      const f = await c.next(undefined, 15000);
      if (f.type === 'push' || f.type === 'resync') got.push(f);
    }
    return got;
  };
  const redisCli = () => new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  const ready = (node: GatewayProcess) =>
    eventually(`${node.nodeId} ready`, async () => ((await http(`${node.adminUrl}/health/ready`)).status === 200 ? true : undefined), 20000, 100);

  it('the node whose bus connection Redis dropped fills its open links from the mailbox: every push, in order, once', T, async () => {
    const { client } = await open('u-sub');
    await push('u-sub', 0);
    assert.equal((await client.next('push')).seq, 1);
    const cli = redisCli();
    try {
      // as Redis does to a subscriber past its output-buffer limit, or a failover: the bus connections go
      await cli.client('KILL', 'TYPE', 'pubsub');
    } finally {
      cli.disconnect();
    }
    // published while node B's subscriber is reconnecting: Redis pub/sub drops them for B
    for (let i = 1; i <= 20; i++) await push('u-sub', i);
    const got = await frames(client, 20);
    assert.deepEqual(
      got.map((f) => [f.type, f.seq]),
      Array.from({ length: 20 }, (_, i) => ['push', i + 2]),
    );
    await eventually('node B to count the interruption', async () =>
      metricValueOr(await scrape(b.adminUrl), 'websocket_gateway_bus_interruptions_total', {}, 0) >= 1 ? true : undefined,
    );
    await push('u-sub', 21);
    assert.deepEqual([(await client.next('push')).seq, client.pending.filter((f) => f.type === 'push').length], [22, 0]);
  });

  it('after kill -9 and a restart with AOF: a link closed meanwhile leaves the directory, and pushes go on in order', T, async () => {
    const { client: stays } = await open('u-aof');
    const { client: goes, sid: goneSid } = await open('u-aof-gone');
    await push('u-aof', 0);
    const first = await stays.next('push');
    await redis.kill('SIGKILL');
    // closed while Redis is away: its session cannot be removed now
    await goes.close();
    await redis.restart();
    await Promise.all([ready(a), ready(b)]);
    const api = adminApi(a.adminUrl);
    await eventually(
      'the closed link to leave the directory',
      async () => ((await api.get(`/api/clients/${goneSid}`)).status === 404 ? true : undefined),
      10000,
      200,
    );
    for (let i = 1; i <= 5; i++) await push('u-aof', i);
    const got = await frames(stays, 5);
    assert.deepEqual(
      got.map((f) => [f.type, f.epoch, f.seq]),
      Array.from({ length: 5 }, (_, i) => ['push', first.epoch, i + 2]),
    );
  });

  it('after a restart of a Redis that kept nothing: live links are listed again, and an open link gets resync then the new stream', T, async () => {
    const { client, sid } = await open('u-empty');
    await push('u-empty', 0);
    const old = await client.next('push');
    // a Redis that keeps nothing: no AOF on the next start
    await redis.kill('SIGKILL');
    fs.rmSync(path.join(aofDir, 'appendonlydir'), { recursive: true, force: true });
    await redis.restart();
    await Promise.all([ready(a), ready(b)]);
    const api = adminApi(a.adminUrl);
    // the directory was lost with Redis: node B lists its live links again within the interval
    const listed = await eventually(
      'the live link to be listed again',
      async () => {
        const r = await api.get(`/api/clients/${sid}`);
        return r.status === 200 ? r.body : undefined;
      },
      10000,
      200,
    );
    assert.equal(listed.node, b.nodeId);
    await push('u-empty', 1);
    await push('u-empty', 2);
    const got = await frames(client, 3);
    // resync first: the old stream is gone. Its epoch is the new stream's, or '' when the node
    // noticed before the first new push was stored (then nothing was stored yet)
    assert.deepEqual([got[0].type, got[0].reason, got[0].seq], ['resync', 'epoch_changed', 0]);
    const epoch = got[1].epoch;
    assert.ok(epoch && epoch !== old.epoch, `a new epoch: ${epoch} after ${old.epoch}`);
    assert.ok(got[0].epoch === epoch || got[0].epoch === '', `resync epoch ${got[0].epoch}`);
    assert.deepEqual(
      got.slice(1).map((f) => [f.type, f.epoch, f.seq, f.body.i]),
      [
        ['push', epoch, 1, 1],
        ['push', epoch, 2, 2],
      ],
    );
    // the kick reaches the live link through the healed directory
    assert.equal((await api.delete(`/api/clients/${sid}`, { reason: 'healed' })).status, 200);
    assert.deepEqual(await client.closed, { code: 4003, reason: 'healed' });
  });
});
