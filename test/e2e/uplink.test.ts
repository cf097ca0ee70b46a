import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminApi, metricValueOr, scrape } from '../fixtures/admin';
import { BackendProcess, startBackend } from '../fixtures/backend-process';
import { eventually, freePort, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { AnyFrame, TestClient } from '../fixtures/ws-client';

const T = { timeout: 60000 };
const H = { timeout: 60000 };

/**
 * The uplink through real gRPC backend processes (examples/backend) discovered in etcd, with a
 * gateway node in cluster mode and the echo fallback off: a biz without a backend gets 404.
 */
describe('uplink: clients talk to gRPC backends discovered in etcd (one node, example backends)', () => {
  const prefixes = uniquePrefixes('uplink');
  const backendPrefix = `/e2e-backends-${randomUUID().slice(0, 8)}/`;
  let gw: GatewayProcess;
  const backends: BackendProcess[] = [];
  const clients: TestClient[] = [];

  const backend = async (bizIds: string[], extra: { listen?: string; args?: string[] } = {}) => {
    const b = await startBackend({ bizIds, etcdPrefix: backendPrefix, ...extra, args: ['--lease-ttl', '2', ...(extra.args ?? [])] });
    backends.push(b);
    return b;
  };
  const open = async (user: string, biz: string) => {
    const { client } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub: user, biz }) });
    clients.push(client);
    return client;
  };
  /** acks for the ids, whatever order they come in */
  const acks = async (c: TestClient, n: number): Promise<Map<string, AnyFrame>> => {
    const got = new Map<string, AnyFrame>();
    while (got.size < n) {
      const f = await c.next('ack', 15000);
      got.set(f.id, f);
    }
    return got;
  };
  /** waits until the node lists `n` instances of the biz (/health, informational) */
  const instances = (biz: string, n: number) =>
    eventually(
      `${n} instances of ${biz}`,
      async () => {
        const v = metricValueOr(await scrape(gw.adminUrl), 'websocket_gateway_backend_instances', { biz }, 0);
        return v === n ? true : undefined;
      },
      10000,
      50,
    );

  before(async () => {
    gw = await startGateway({
      ...prefixes,
      GATEWAY_BACKEND_ECHO: 'off',
      GATEWAY_BACKEND_ETCD_PREFIX: backendPrefix,
      GATEWAY_BACKEND_TIMEOUT_MS: '800',
      GATEWAY_BACKEND_BREAKER_FAILURES: '3',
      GATEWAY_BACKEND_BREAKER_HALF_OPEN_MS: '500',
      GATEWAY_LINK_MAX_INFLIGHT_REQUESTS: '4',
      GATEWAY_ROOMS_APPROVAL_BIZ_IDS: 'guarded',
      GATEWAY_PUSH_BIZ_IDS: '',
    });
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all(backends.map((b) => b.stop()));
    await gw?.stop();
    await cleanupPrefixes(prefixes);
  }, H);

  it('a biz without a backend gets 404; an instance that registers is used within a second', T, async () => {
    const c = await open('u1', 'solo');
    assert.deepEqual([(await c.request('1', { echo: 1 })).code], [404]);
    const b = await backend(['solo']);
    await instances('solo', 1);
    const ack = await c.request('2', { echo: 'hi' });
    assert.deepEqual([ack.code, ack.body], [0, { echo: 'hi', instance: b.instance }]);
  });

  it('two instances share the load; one killed with SIGKILL drops out and requests fail over with no ack lost', T, async () => {
    const [b1, b2] = await Promise.all([backend(['pair']), backend(['pair'])]);
    await instances('pair', 2);
    const c = await open('u2', 'pair');
    const seen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const ack = await c.request(`s${i}`, { echo: i });
      assert.equal(ack.code, 0);
      seen.set(ack.body.instance, (seen.get(ack.body.instance) ?? 0) + 1);
    }
    assert.ok((seen.get(b1.instance) ?? 0) >= 5 && (seen.get(b2.instance) ?? 0) >= 5, `both instances served: ${JSON.stringify([...seen])}`);
    await b1.kill();
    // right after the kill (its key still in etcd): every request still gets exactly one ack, 0, from b2
    const after: [number, string][] = [];
    for (let i = 0; i < 30; i++) {
      const ack = await c.request(`f${i}`, { echo: i });
      after.push([ack.code, ack.body?.instance]);
    }
    assert.deepEqual(
      after,
      Array.from({ length: 30 }, () => [0, b2.instance]),
    );
    // the lease ends (2 s): the dead instance drops out of the directory
    await instances('pair', 1);
  });

  it('deadline -> 504; the backend’s own code passes through; a garbage reply -> 500', T, async () => {
    await backend(['timing']);
    await instances('timing', 1);
    const c = await open('u3', 'timing');
    const slow = await c.request('slow', { sleepMs: 2000 }, 5000);
    assert.deepEqual([slow.code], [504]);
    const own = await c.request('own', { code: 409, msg: 'already exists' });
    assert.deepEqual([own.code, own.msg], [409, 'already exists']);
    const bad = await c.request('bad', { garbage: true });
    assert.equal(bad.code, 500);
    assert.equal((await c.request('after', { echo: 'alive' })).code, 0);
  });

  it('all instances down -> 503 at once; the circuit opens, then closes when an instance is back', T, async () => {
    const port = await freePort();
    const b = await backend(['flaky'], { listen: `127.0.0.1:${port}` });
    await instances('flaky', 1);
    const c = await open('u4', 'flaky');
    assert.equal((await c.request('up', { echo: 1 })).code, 0);
    await b.kill();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await c.request(`d${i}`, { echo: i })).code);
    assert.ok(
      codes.every((code) => code === 503),
      `503 while down: ${codes}`,
    );
    const state = async () => metricValueOr(await scrape(gw.adminUrl), 'websocket_gateway_backend_circuit_state', { biz: 'flaky', instance: b.instance }, -1);
    assert.equal(await state(), 2, 'circuit open');
    const started = Date.now();
    assert.equal((await c.request('fast', { echo: 1 })).code, 503);
    assert.ok(Date.now() - started < 200, 'an open circuit answers at once');
    // back on the same address (same instance name, so its circuit is the one that opened)
    backends.push(
      await startBackend({ bizIds: ['flaky'], etcdPrefix: backendPrefix, listen: `127.0.0.1:${port}`, args: ['--lease-ttl', '2', '--instance', b.instance] }),
    );
    const ack = await eventually(
      'a request to succeed again',
      async () => {
        const a = await c.request(`r${Date.now()}`, { echo: 'back' });
        return a.code === 0 ? a : undefined;
      },
      10000,
      200,
    );
    assert.equal(ack.body.echo, 'back');
    assert.equal(await state(), 0, 'circuit closed');
  });

  it('past link.maxInflightRequests the next req gets 429; a bad req frame gets its answer and the link lives', T, async () => {
    await backend(['busy']);
    await instances('busy', 1);
    const c = await open('u5', 'busy');
    for (let i = 0; i < 5; i++) c.send({ type: 'req', id: `w${i}`, body: { sleepMs: 300 } });
    const got = await acks(c, 5);
    assert.deepEqual([...got.values()].map((a) => a.code).sort(), [0, 0, 0, 0, 429]);
    c.send({ type: 'req', body: { echo: 1 } });
    assert.deepEqual([(await c.next('ack')).code], [400]);
    c.send({ type: 'req', id: 7, body: 1 });
    assert.deepEqual([(await c.next('error')).code], [400]);
    c.sendRaw(`{"type":"req","id":"deep","body":${'['.repeat(100)}${']'.repeat(100)}}`);
    assert.deepEqual([(await c.next('error')).code], [400]);
    assert.equal((await c.request('alive', { echo: 'yes' })).code, 0);
  });

  it('one biz’s backend sleeping 2 s does not slow another biz’s requests nor a push', T, async () => {
    await Promise.all([backend(['sleepy']), backend(['brisk'])]);
    await Promise.all([instances('sleepy', 1), instances('brisk', 1)]);
    const sleepy = await open('u6', 'sleepy');
    const brisk = await open('u7', 'brisk');
    for (let i = 0; i < 4; i++) sleepy.send({ type: 'req', id: `z${i}`, body: { sleepMs: 2000 } });
    const lat: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = Date.now();
      assert.equal((await brisk.request(`b${i}`, { echo: i })).code, 0);
      lat.push(Date.now() - t0);
    }
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.ceil(lat.length * 0.99) - 1];
    const t0 = Date.now();
    assert.equal((await adminApi(gw.adminUrl).post('/api/push', { bizId: 'brisk', to: { users: ['u7'] }, body: 'ping' })).status, 202);
    await brisk.next('push');
    const pushMs = Date.now() - t0;
    assert.ok(p99 < 250 && pushMs < 250, `brisk p99 ${p99} ms, push ${pushMs} ms while sleepy's requests wait`);
    const slow = await acks(sleepy, 4);
    assert.deepEqual(
      [...slow.values()].map((a) => a.code),
      [504, 504, 504, 504],
    );
  });

  it('room approval goes through AuthorizeJoin of the biz’s backend', T, async () => {
    await backend(['guarded']);
    await instances('guarded', 1);
    const c = await open('u8', 'guarded');
    c.send({ type: 'join', room: 'private.vault' });
    const no = await c.next('ack');
    assert.deepEqual([no.id, no.code], ['join:private.vault', 403]);
    c.send({ type: 'join', room: 'lobby' });
    assert.deepEqual([(await c.next('ack')).code], [0]);
  });

  it('the IM round trip: client A req -> backend -> Kafka gateway.push -> client B push', T, async () => {
    await backend(['chat']);
    await instances('chat', 1);
    // the node consumes gateway.push in a group of its own: wait until it owns partitions
    await eventually(
      'the push consumer to be assigned',
      async () => (metricValueOr(await scrape(gw.adminUrl), 'websocket_gateway_kafka_assigned_partitions', {}, 0) > 0 ? true : undefined),
      20000,
      100,
    );
    const aliceId = `alice-${randomUUID().slice(0, 6)}`;
    const alice = await open(aliceId, 'chat');
    const bobId = `bob-${randomUUID().slice(0, 6)}`;
    const bob = await open(bobId, 'chat');
    const ack = await alice.request('m1', { to: bobId, text: 'hi bob' });
    assert.deepEqual([ack.code, ack.body], [0, { sent: true }]);
    const push = await bob.next('push', 15000);
    assert.deepEqual(push.body, { from: aliceId, text: 'hi bob' });
  });
});
