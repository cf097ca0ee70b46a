import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Consumer, Kafka, logLevel, Producer } from 'kafkajs';
import { gateway } from '../../src/codec/generated/frames';
import { adminApi, metricValue, metricValueOr, scrape } from '../fixtures/admin';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { AnyFrame, TestClient } from '../fixtures/ws-client';

// Push through the real Kafka broker to three gateway processes sharing the real Redis and etcd.
const BROKERS = ['127.0.0.1:9092'];
const PARTITIONS = 6;

describe('push through Kafka to any user on any node (three nodes)', { timeout: 240_000 }, () => {
  const iso = uniquePrefixes('kafka');
  const run = randomUUID().slice(0, 8);
  const topic = `e2e-push-${run}`;
  const env = {
    ...iso,
    GATEWAY_PUSH_TOPIC: topic,
    GATEWAY_PUSH_DLQ_TOPIC: `${topic}.dlq`,
    GATEWAY_PUSH_EVENTS_TOPIC: `${topic}.events`,
    GATEWAY_PUSH_BIZ_IDS: 'shop,other',
    GATEWAY_PUSH_PARTITIONS: String(PARTITIONS),
    GATEWAY_PUSH_MAX_ENVELOPE_BYTES: '4096',
    // the slow-link test pushes more than the kernel's socket buffers hold; all of it stays resumable
    GATEWAY_MAILBOX_MAX_ENTRIES: '10000',
    GATEWAY_LOG_LEVEL: 'info',
  };
  const kafka = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING });
  let producer: Producer;
  let nodes: GatewayProcess[] = [];
  const clients: TestClient[] = [];

  const open = async (node: GatewayProcess, user: string, biz = 'shop', did?: string) => {
    const { client } = await TestClient.open(node.wsUrl, { token: hsToken({ sub: user, biz, did }), label: `${user}@${node.nodeId}` });
    clients.push(client);
    return client;
  };
  const produce = (key: string, values: unknown[], headers: Record<string, string> = {}) =>
    producer.send({ topic, messages: values.map((v) => ({ key, value: Buffer.isBuffer(v) ? v : typeof v === 'string' ? v : JSON.stringify(v), headers })) });
  const pushTo = (users: string[], body: unknown, extra: Record<string, unknown> = {}) => ({ bizId: 'shop', to: { users }, body, ...extra });
  /** the next `n` push frames of a client */
  const take = async (c: TestClient, n: number, timeoutMs = 15000): Promise<AnyFrame[]> => {
    const out: AnyFrame[] = [];
    while (out.length < n) out.push(await c.next('push', timeoutMs));
    return out;
  };

  before(async () => {
    producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    nodes = await Promise.all([startGateway(env), startGateway(env), startGateway(env)]);
    // records are only consumed once the group has handed out every partition
    await eventually(
      'all partitions assigned across the three nodes',
      async () => {
        const assigned = await Promise.all(nodes.map(async (n) => metricValue(await scrape(n.adminUrl), 'websocket_gateway_kafka_assigned_partitions')));
        return assigned.reduce((a, b) => a + b, 0) === PARTITIONS && assigned.every((a) => a > 0) ? true : undefined;
      },
      60000,
      250,
    );
  });

  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all(nodes.filter((n) => !n.exited).map((n) => n.stop('SIGTERM')));
    await producer?.disconnect();
    await cleanupPrefixes(iso);
  });

  it('a user with links on two nodes gets every push on both, in order', async () => {
    const [a, b] = [await open(nodes[0], 'alice', 'shop', 'phone'), await open(nodes[1], 'alice', 'shop', 'laptop')];
    await produce(
      'alice',
      Array.from({ length: 50 }, (_, i) => pushTo(['alice'], { i })),
    );
    for (const c of [a, b]) {
      const got = await take(c, 50);
      assert.deepEqual(
        got.map((f) => f.body.i),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.deepEqual(
        got.map((f) => f.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    }
  });

  it('1,000 pushes to one user arrive in order, each once', async () => {
    const c = await open(nodes[2], 'bob');
    for (let batch = 0; batch < 10; batch++)
      await produce(
        'bob',
        Array.from({ length: 100 }, (_, i) => pushTo(['bob'], { i: batch * 100 + i })),
      );
    const got = await take(c, 1000, 20000);
    assert.deepEqual(
      got.map((f) => f.body.i),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.equal(new Set(got.map((f) => f.mid)).size, 1000);
    assert.ok(got.every((f, i) => f.seq === i + 1));
  });

  it('an offline user gets what it missed on resume; a resume from a cursor gets exactly what followed', async () => {
    const storedNow = async () =>
      (await Promise.all(nodes.map(async (n) => metricValue(await scrape(n.adminUrl), 'websocket_gateway_push_stored_total')))).reduce((a, b) => a + b, 0);
    const before = await storedNow();
    await produce(
      'carol',
      Array.from({ length: 5 }, (_, i) => pushTo(['carol'], { i })),
    );
    // no client is connected, so no frame to await: wait until the five are in the mailbox
    await eventually('five pushes stored', async () => ((await storedNow()) >= before + 5 ? true : undefined), 15000, 100);
    const first = await open(nodes[1], 'carol');
    first.send({ type: 'resume' });
    const missed = await take(first, 5);
    assert.deepEqual(
      missed.map((f) => f.body.i),
      [0, 1, 2, 3, 4],
    );
    const epoch = missed[0].epoch;
    await first.close();

    const again = await open(nodes[2], 'carol');
    again.send({ type: 'resume', epoch, seq: 2 });
    const rest = await take(again, 3);
    assert.deepEqual(
      rest.map((f) => f.seq),
      [3, 4, 5],
    );
    await produce('carol', [pushTo(['carol'], { i: 5 })]);
    const live = await again.next('push');
    assert.deepEqual([live.seq, live.body.i], [6, 5]);

    const lost = await open(nodes[0], 'carol');
    lost.send({ type: 'resume', epoch: 'not-the-epoch', seq: 3 });
    const resync = await lost.next('resync');
    // lost up to (epoch, 0): every push the current stream still holds follows, in order
    assert.deepEqual([resync.reason, resync.epoch, resync.seq], ['epoch_changed', epoch, 0]);
    const replayed = await take(lost, 6);
    assert.deepEqual(
      replayed.map((f) => [f.epoch, f.seq]),
      [1, 2, 3, 4, 5, 6].map((seq) => [epoch, seq]),
    );
  });

  it('malformed, oversize and unknown-biz records land in the DLQ with a reason, and the consumer goes on', async () => {
    const dave = await open(nodes[0], 'dave');
    const dlq: Consumer = kafka.consumer({ groupId: `e2e-dlq-${run}` });
    await dlq.connect();
    await dlq.subscribe({ topic: `${topic}.dlq`, fromBeginning: true });
    const letters: { reason: string; detail: string }[] = [];
    const three = new Promise<void>((resolve) => {
      void dlq.run({
        eachMessage: async ({ message }) => {
          letters.push({ reason: String(message.headers?.['x-dlq-reason']), detail: String(message.headers?.['x-dlq-detail']) });
          if (letters.length === 3) resolve();
        },
      });
    });
    await produce('dave', ['{"bizId": "shop", "to": '], { 'content-type': 'application/json' });
    await produce('dave', [pushTo(['dave'], 'x'.repeat(5000))]);
    await produce('dave', [{ bizId: 'nobody', to: { users: ['dave'] }, body: 1 }]);
    await produce('dave', [pushTo(['dave'], 'after the bad ones')]);
    assert.equal((await dave.next('push', 15000)).body, 'after the bad ones');
    await three;
    await dlq.disconnect();
    assert.deepEqual(letters.map((l) => l.reason).sort(), ['malformed', 'too_large', 'unknown_biz']);
    assert.match(letters.find((l) => l.reason === 'unknown_biz')!.detail, /nobody/);
    const counted = await Promise.all(
      // only the node that consumed the record counts it: the others have no such series (0)
      nodes.map(async (n) => metricValueOr(await scrape(n.adminUrl), 'websocket_gateway_push_dead_letters_total', { reason: 'malformed' }, 0)),
    );
    assert.equal(
      counted.reduce((a, b) => a + b, 0),
      1,
    );
  });

  it('protobuf envelopes (content-type header) are delivered like JSON ones', async () => {
    const c = await open(nodes[1], 'pb-user');
    const bytes = gateway.v1.PushEnvelope.encode({
      bizId: 'shop',
      to: { users: ['pb-user'] },
      body: Buffer.from(JSON.stringify({ via: 'protobuf' })),
    }).finish();
    await produce('pb-user', [Buffer.from(bytes)], { 'content-type': 'application/x-protobuf' });
    assert.deepEqual((await c.next('push', 15000)).body, { via: 'protobuf' });
  });

  it('a room spanning three nodes gets one copy per member link', async () => {
    const erinA = await open(nodes[0], 'erin');
    const erinC = await open(nodes[2], 'erin');
    const frank = await open(nodes[1], 'frank');
    const gina = await open(nodes[2], 'gina');
    const outsider = await open(nodes[0], 'henry');
    erinA.send({ type: 'join', room: 'lobby' });
    assert.deepEqual([(await erinA.next('ack')).id, 0], ['join:lobby', 0]);
    frank.send({ type: 'join', room: 'lobby' });
    assert.equal((await frank.next('ack')).code, 0);
    // an operator adds gina through the admin API of another node
    assert.equal((await adminApi(nodes[1].adminUrl).post('/api/rooms/lobby/members', { bizId: 'shop', userId: 'gina' })).status, 200);
    await produce('lobby', [
      { bizId: 'shop', to: { room: 'lobby' }, body: 'r1' },
      { bizId: 'shop', to: { room: 'lobby' }, body: 'r2' },
    ]);
    for (const c of [erinA, erinC, frank, gina]) {
      const got = await take(c, 2);
      assert.deepEqual(
        got.map((f) => [f.body, f.room]),
        [
          ['r1', 'lobby'],
          ['r2', 'lobby'],
        ],
      );
    }
    // the outsider got neither: its next push is one addressed to it
    await produce('henry', [pushTo(['henry'], 'direct')]);
    assert.equal((await outsider.next('push')).body, 'direct');
    // a private room needs the backend's approval only for bizs that ask for it: shop does not
    const members = await adminApi(nodes[2].adminUrl).get('/api/rooms/lobby/members?biz=shop');
    assert.deepEqual(members.body.items.sort(), ['erin', 'frank', 'gina']);
  });

  it('a broadcast reaches every link of the biz on every node and no other biz', async () => {
    const shop = await Promise.all(nodes.map((n, i) => open(n, `b-user-${i}`)));
    const other = await open(nodes[1], 'b-user-0', 'other');
    await produce('all', [{ bizId: 'shop', to: { all: true }, body: 'to everyone' }]);
    for (const c of shop) assert.equal((await c.next('push', 15000)).body, 'to everyone');
    await produce('b-user-0', [{ bizId: 'other', to: { users: ['b-user-0'] }, body: 'other biz only' }]);
    assert.equal((await other.next('push', 15000)).body, 'other biz only');
  });

  it('ack-push publishes a delivered receipt, and links publish connected events', async () => {
    const events: Consumer = kafka.consumer({ groupId: `e2e-events-${run}` });
    await events.connect();
    await events.subscribe({ topic: `${topic}.events`, fromBeginning: true });
    const seen: Record<string, any>[] = [];
    let resolveDelivered!: (e: Record<string, any>) => void;
    const delivered = new Promise<Record<string, any>>((r) => (resolveDelivered = r));
    void events.run({
      eachMessage: async ({ message }) => {
        const e = JSON.parse(String(message.value));
        seen.push(e);
        if (e.type === 'delivered' && e.userId === 'ivy') resolveDelivered(e);
      },
    });
    const ivy = await open(nodes[0], 'ivy', 'shop', 'tablet');
    await produce('ivy', [pushTo(['ivy'], 'receipt please', { mid: `receipt-${run}` })]);
    const p = await ivy.next('push', 15000);
    ivy.send({ type: 'ack-push', mid: p.mid });
    const receipt = await delivered;
    await events.disconnect();
    assert.deepEqual([receipt.mid, receipt.deviceId, receipt.node], [`receipt-${run}`, 'tablet', nodes[0].nodeId]);
    assert.ok(seen.some((e) => e.type === 'connected' && e.userId === 'ivy'));
  });

  it('a slow link on mailbox pushes is closed with 4008, and resuming from its cursor loses nothing', async () => {
    const slowNode = await startGateway({ ...env, GATEWAY_PUSH_CONSUME: 'false', GATEWAY_LINK_SEND_QUEUE_MAX_BYTES: '65536' });
    nodes.push(slowNode);
    const slow = await open(slowNode, 'jack');
    slow.pauseReading();
    // ~12 MB: more than loopback's socket buffers absorb, so the link's own backlog must grow
    const total = 4000;
    const body = 'y'.repeat(3000);
    for (let batch = 0; batch < total / 100; batch++)
      await produce(
        'jack',
        Array.from({ length: 100 }, (_, i) => pushTo(['jack'], { i: batch * 100 + i, body })),
      );
    // the node starts the close when the backlog passes the bound; the client reads its backlog
    // within the close grace (5 s), so it sees the 4008 close frame behind the data
    // a fresh node: the series appears with the first drop, absent until then means 0
    const counted = async () => metricValueOr(await scrape(slowNode.adminUrl), 'websocket_gateway_push_dropped_total', { reason: 'slow_consumer' }, 0);
    await eventually('the node closing the slow link', async () => ((await counted()) >= 1 ? true : undefined), 30000, 100);
    slow.resumeReading();
    const seen: AnyFrame[] = [];
    for (;;) {
      try {
        seen.push(await slow.next('push', 15000));
      } catch {
        break; // the link closed
      }
    }
    assert.ok(slow.isClosed, 'the link must be closed once its backlog is read');
    assert.equal((await slow.closed).code, 4008);
    assert.ok(seen.length < total, 'the link must have been cut short');
    const last = seen[seen.length - 1];
    // the cursor on the upgrade URL: replayed before any live push, so the order is strict
    const { client: again } = await TestClient.open(nodes[1].wsUrl, {
      token: hsToken({ sub: 'jack', biz: 'shop' }),
      query: { resume: last ? `${last.epoch}:${last.seq}` : '' },
      label: 'jack-again',
    });
    clients.push(again);
    const rest = await take(again, total - seen.length, 20000);
    const all = [...seen, ...rest].map((f) => f.body.i);
    assert.deepEqual(
      all,
      Array.from({ length: total }, (_, i) => i),
    );
    assert.equal(metricValue(await scrape(slowNode.adminUrl), 'websocket_gateway_link_closes_total', { reason: 'slow_consumer' }), 1);
  });

  it('a node killed with SIGKILL mid-stream loses no push: records are redelivered, duplicates dropped', async () => {
    const users = Array.from({ length: 6 }, (_, i) => `k${i}`);
    const conns = await Promise.all(users.map((u, i) => open(nodes[1 + (i % 2)], u)));
    const perUser = 150;
    const produced = (async () => {
      for (let round = 0; round < perUser / 10; round++) {
        for (const u of users)
          await produce(
            u,
            Array.from({ length: 10 }, (_, i) => pushTo([u], { i: round * 10 + i })),
          );
        if (round === 3) {
          const exit = await nodes[0].stop('SIGKILL');
          assert.equal(exit.signal, 'SIGKILL');
        }
      }
    })();
    const received = conns.map((c) => take(c, perUser, 45000));
    await produced;
    const results = await Promise.all(received);
    for (const got of results) {
      assert.deepEqual(
        got.map((f) => f.body.i),
        Array.from({ length: perUser }, (_, i) => i),
        'every push once, in order',
      );
    }
    // nothing more arrives after the expected ones (no late duplicate): a sentinel comes next
    await produce('k0', [pushTo(['k0'], { sentinel: true })]);
    assert.deepEqual((await conns[0].next('push', 20000)).body, { sentinel: true });
  });
});
