import { strict as assert } from 'node:assert';
import type { Duplex } from 'node:stream';
import { after, beforeEach, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { Subscriptions } from '../bus/subscriptions';
import { JsonCodec } from '../codec/json.codec';
import { loadConfig } from '../config/config.loader';
import { GatewayConfig } from '../config/gateway.config';
import { LocalDelivery } from '../delivery/local-delivery.service';
import { MemoryClusterBus } from '../infra/memory/memory-cluster.bus';
import { MemoryEventSink } from '../infra/memory/memory-event.sink';
import { MemoryMailbox } from '../infra/memory/memory-mailbox';
import { MemoryPushLog } from '../infra/memory/memory-push.log';
import { MemoryRoomStore } from '../infra/memory/memory-room.store';
import { MemorySessionStore } from '../infra/memory/memory-session.store';
import { Link } from '../link/link';
import { LinkManager } from '../link/link.manager';
import { receiveMessages } from '../link/ws-frame.testing';
import { Mailbox } from '../mailbox/mailbox';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { RoomsService } from '../rooms/rooms.service';
import { PushRouter } from './push.router';

/** The ws socket and the TCP socket under it, as far as a link uses them. */
class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  frames: Record<string, unknown>[] = [];
  tcp = {
    writableLength: 0,
    cork() {},
    uncork() {},
    write: (chunk: Buffer) => {
      for (const m of receiveMessages([chunk])) this.frames.push(JSON.parse(m.data.toString()));
    },
  };
  close() {}
  terminate() {}
}

/** A mailbox whose reads can be held open, to put live pushes inside the read/subscribe race. */
class GatedMailbox extends MemoryMailbox {
  gate?: Promise<void>;
  override async readAfter(...args: Parameters<Mailbox['readAfter']>) {
    const result = await super.readAfter(...args);
    await this.gate;
    return result;
  }
}

const { config: raw } = loadConfig({ cwd: '/', env: { GATEWAY_NODE_ID: 'n1' } });
const config = GatewayConfig.from(raw);
const metrics = new GatewayMetrics();
after(() => metrics.close());

/** The in-process bus, with a way to act out a lost connection. */
class InterruptibleBus extends MemoryClusterBus {
  private readonly onBack: (() => void)[] = [];
  override onInterrupted(handler: () => void): void {
    this.onBack.push(handler);
  }
  /** the connection came back: what was published meanwhile never arrived */
  restored(): void {
    for (const h of this.onBack) h();
  }
}

/** One embedded node's push path: router (send side), local delivery and rooms, on memory adapters. */
function node() {
  const bus = new InterruptibleBus();
  const subscriptions = new Subscriptions(bus);
  const mailbox = new GatedMailbox(100, 1800, 600);
  const log = new MemoryPushLog(mailbox);
  const links = new LinkManager(config, metrics);
  const events = new MemoryEventSink();
  const rooms = new RoomsService(config, new MemoryRoomStore(), bus, subscriptions, links, events);
  const delivery = new LocalDelivery(config, bus, subscriptions, mailbox, rooms, links, metrics);
  const router = new PushRouter(config, log, bus, new MemorySessionStore(), delivery, rooms, metrics);
  let n = 0;
  const connect = async (userId: string, bizId = 'b') => {
    const ws = new FakeSocket();
    const link = new Link(
      ws as unknown as WebSocket,
      ws.tcp as unknown as Duplex,
      { sid: `s${++n}`, bizId, userId, ip: '::1', node: 'n1', connectedAt: 0 },
      new JsonCodec(),
      Infinity,
      links,
    );
    links.registry.add(link);
    await Promise.all([delivery.attach(link), rooms.attach(link)]);
    delivery.ready(link);
    return { link, ws };
  };
  const flush = () => new Promise((r) => setImmediate(r));
  const init = async () => {
    rooms.onModuleInit();
    await delivery.onModuleInit();
  };
  return { router, delivery, rooms, mailbox, log, links, events, bus, connect, flush, init };
}

const pushes = (ws: FakeSocket) => ws.frames.filter((f) => f.type === 'push');
const env = (users: string[], body: unknown, mid?: string) => ({ bizId: 'b', to: { users }, body, ...(mid ? { mid } : {}) });

describe('push path: router, delivery, rooms (memory adapters)', () => {
  let n: ReturnType<typeof node>;
  beforeEach(async () => {
    n = node();
    await n.init();
  });

  it('stores pushes for an offline user and delivers them on resume, in order, with seq and epoch', async () => {
    for (let i = 1; i <= 3; i++) await n.router.push(env(['u1'], { i }), 'test');
    const { link, ws } = await n.connect('u1');
    await n.delivery.resume(link, undefined, 0);
    await n.flush();
    const got = pushes(ws);
    assert.deepEqual(
      got.map((f) => (f.body as { i: number }).i),
      [1, 2, 3],
    );
    assert.deepEqual(
      got.map((f) => f.seq),
      [1, 2, 3],
    );
    assert.ok(got.every((f) => typeof f.epoch === 'string' && f.epoch === got[0].epoch));
  });

  it('a resume from a cursor gets exactly what followed it', async () => {
    for (let i = 1; i <= 5; i++) await n.router.push(env(['u1'], { i }), 'test');
    const { link, ws } = await n.connect('u1');
    const epoch = (await n.mailbox.readAfter('b', 'u1', undefined, 0)).epoch;
    await n.delivery.resume(link, epoch, 3);
    await n.flush();
    assert.deepEqual(
      pushes(ws).map((f) => f.seq),
      [4, 5],
    );
  });

  it('pushes arriving while the mailbox is read come after the missed ones, none twice', async () => {
    await n.router.push(env(['u1'], { i: 1 }), 'test');
    await n.router.push(env(['u1'], { i: 2 }), 'test');
    const { link, ws } = await n.connect('u1');
    let open!: () => void;
    n.mailbox.gate = new Promise((r) => (open = r));
    const resumed = n.delivery.resume(link, undefined, 0);
    await n.router.push(env(['u1'], { i: 3 }), 'test'); // stored and published during the read
    open();
    await resumed;
    await n.router.push(env(['u1'], { i: 4 }), 'test');
    await n.flush();
    assert.deepEqual(
      pushes(ws).map((f) => f.seq),
      [1, 2, 3, 4],
    );
  });

  it('live pushes delivered before the resume frame are not sent again by it', async () => {
    await n.router.push(env(['u1'], { i: 1 }), 'test');
    const { link, ws } = await n.connect('u1');
    await n.router.push(env(['u1'], { i: 2 }), 'test'); // live, before the client sends resume
    await n.delivery.resume(link, undefined, 0);
    await n.flush();
    assert.deepEqual(
      pushes(ws)
        .map((f) => f.seq)
        .sort(),
      [1, 2],
    );
  });

  it('a stale epoch or a gap older than the mailbox gets resync, not a silent hole', async () => {
    const small = new MemoryMailbox(2, 1800, 600);
    for (let i = 1; i <= 5; i++) small.store('b', 'u1', { mid: `m${i}`, body: i, ts: 0 }, { persist: true });
    const epoch = (await small.readAfter('b', 'u1', undefined, 0)).epoch;
    // the cap of 2 kept seqs 4 and 5: everything up to 3 is lost, and what follows can still be read
    assert.deepEqual(await small.readAfter('b', 'u1', epoch, 1), { kind: 'resync', epoch, seq: 3, reason: 'gap_too_old' });
    assert.equal((await small.readAfter('b', 'u1', 'other-epoch', 4)).kind, 'resync');
    const ok = await small.readAfter('b', 'u1', epoch, 3);
    assert.equal(ok.kind, 'entries');
    assert.deepEqual(ok.kind === 'entries' && ok.entries.map((e) => e.seq), [4, 5]);
    const { link, ws } = await n.connect('u2');
    await n.delivery.resume(link, 'lost-epoch', 10);
    await n.flush();
    assert.equal(ws.frames.find((f) => f.type === 'resync')?.reason, 'epoch_changed');
  });

  it('drops a redelivered mid before it reaches a client', async () => {
    const { ws } = await n.connect('u1');
    const first = await n.router.push(env(['u1'], 'x', 'mid-1'), 'kafka');
    const again = await n.router.push(env(['u1'], 'x', 'mid-1'), 'kafka');
    await n.flush();
    assert.equal(first.duplicate, undefined);
    assert.equal(again.duplicate, true);
    assert.equal(pushes(ws).length, 1);
  });

  it('a push stored by a node that died before publishing it is delivered on redelivery, once', async () => {
    const { ws } = await n.connect('u1');
    await n.router.push(env(['u1'], 'first', 'm-1'), 'kafka');
    // a node appended m-2 to the mailbox and died before publishing it
    n.mailbox.store('b', 'u1', { mid: 'm-2', body: 'second', ts: Date.now() }, { persist: true });
    // the record is redelivered (to this node): m-1 was published already, m-2 was not
    await n.router.push(env(['u1'], 'first', 'm-1'), 'kafka');
    await n.router.push(env(['u1'], 'second', 'm-2'), 'kafka');
    await n.router.push(env(['u1'], 'third', 'm-3'), 'kafka');
    await n.flush();
    assert.deepEqual(
      pushes(ws).map((f) => [f.body, f.seq]),
      [
        ['first', 1],
        ['second', 2],
        ['third', 3],
      ],
    );
  });

  it('rooms: members on this node get one copy per link; leaving stops it; other bizs never see it', async () => {
    const a = await n.connect('ua');
    const a2 = await n.connect('ua');
    const b = await n.connect('ub');
    const other = await n.connect('ua', 'other-biz');
    await n.rooms.join('b', 'r1', 'ua');
    await n.router.push({ bizId: 'b', to: { room: 'r1' }, body: 1 }, 'test');
    await n.rooms.leave('b', 'r1', 'ua');
    await n.router.push({ bizId: 'b', to: { room: 'r1' }, body: 2 }, 'test');
    await n.flush();
    assert.deepEqual(
      [a, a2, b, other].map(({ ws }) => pushes(ws).map((f) => f.body)),
      [[1], [1], [], []],
    );
    assert.deepEqual(
      n.events.recent.filter((e) => e.type === 'joined' || e.type === 'left').map((e) => e.type),
      ['joined', 'left'],
    );
  });

  it('a link that connects after its user joined a room follows it', async () => {
    await n.rooms.join('b', 'r2', 'uc');
    const c = await n.connect('uc');
    await n.router.push({ bizId: 'b', to: { room: 'r2' }, body: 'hi' }, 'test');
    await n.flush();
    assert.deepEqual(
      pushes(c.ws).map((f) => [f.body, f.room]),
      [['hi', 'r2']],
    );
  });

  it('a push that never arrived on the bus is filled from the mailbox before the next one, in order', async () => {
    const { ws } = await n.connect('u7');
    await n.router.push(env(['u7'], 'one'), 'test');
    // another node stored seq 2 and announced it, but this node never got the announcement
    n.mailbox.store('b', 'u7', { mid: 'lost', body: 'two', ts: Date.now() }, { persist: true });
    await n.router.push(env(['u7'], 'three'), 'test');
    await n.flush();
    await n.flush();
    assert.deepEqual(
      pushes(ws).map((f) => [f.body, f.seq]),
      [
        ['one', 1],
        ['two', 2],
        ['three', 3],
      ],
    );
    assert.equal(ws.frames.filter((f) => f.type === 'resync').length, 0);
  });

  it('after the bus was interrupted, every open link gets what was stored meanwhile, without a push to notice it', async () => {
    const { ws } = await n.connect('u8');
    const other = await n.connect('u9');
    await n.router.push(env(['u8'], 'before'), 'test');
    // stored and announced while this node's bus connection was down
    n.mailbox.store('b', 'u8', { mid: 'x1', body: 'during-1', ts: Date.now() }, { persist: true });
    n.mailbox.store('b', 'u8', { mid: 'x2', body: 'during-2', ts: Date.now() }, { persist: true });
    n.bus.restored();
    while (pushes(ws).length < 3) await n.flush();
    assert.deepEqual(
      pushes(ws).map((f) => f.body),
      ['before', 'during-1', 'during-2'],
    );
    assert.deepEqual(pushes(other.ws), []);
  });

  it('a new epoch under an open link: resync naming what is lost, then what the new stream holds, in order', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { ws } = await n.connect('u10');
    await n.router.push(env(['u10'], 'old'), 'test');
    // the stream expires (as after a Redis restart without persistence): a new epoch starts at 1
    t.mock.timers.tick(2000 * 1000);
    n.mailbox.store('b', 'u10', { mid: 'n1', body: 'new-1', ts: Date.now() }, { persist: true });
    await n.router.push(env(['u10'], 'new-2'), 'test');
    while (pushes(ws).length < 3) await n.flush();
    const frames = ws.frames.filter((f) => f.type === 'push' || f.type === 'resync');
    assert.deepEqual(
      frames.map((f) => (f.type === 'resync' ? ['resync', f.reason, f.seq] : [f.body, f.seq])),
      [
        ['old', 1],
        ['resync', 'epoch_changed', 0],
        ['new-1', 1],
        ['new-2', 2],
      ],
    );
    assert.notEqual(frames[0].epoch, frames[2].epoch);
    assert.equal(frames[1].epoch, frames[2].epoch);
  });
});
