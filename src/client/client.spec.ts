import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ProtobufCodec } from '../codec/protobuf.codec';
import { backoffDelay, parseRetryAfter } from './backoff';
import { fakeClient, fakeJwt, flush } from './client.testing';
import { jsonCodec, protobufCodec } from './codecs';
import { refreshDelay, tokenExpiry } from './jwt';
import type { ClientState, DisconnectInfo, GatewayClientError, Push, ResyncInfo } from './types';

describe('backoffDelay: full jitter, floor min, ceiling doubling to max', () => {
  it('stays within [min, min(max, min + min * 2^attempt)] for every attempt and jitter value', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      for (const r of [0, 0.001, 0.25, 0.5, 0.999999]) {
        const d = backoffDelay(attempt, 500, 20000, () => r);
        const ceiling = Math.min(20000, 500 + 500 * 2 ** Math.min(attempt, 31));
        assert.ok(d >= 500 && d <= ceiling, `attempt ${attempt}, random ${r}: ${d} outside [500, ${ceiling}]`);
      }
    }
  });

  it('jitters: the random source spreads the delay over the whole window, and the window doubles', () => {
    assert.equal(
      backoffDelay(0, 500, 20000, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(0, 500, 20000, () => 0.5),
      750,
    );
    assert.equal(
      backoffDelay(1, 500, 20000, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(3, 500, 20000, () => 0.5),
      2500,
    );
    assert.equal(
      backoffDelay(10, 500, 20000, () => 0.999),
      20000,
      'capped at max',
    );
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4, 500, 20000)));
    assert.ok(seen.size > 10, `Math.random jitter gave only ${seen.size} distinct delays out of 50`);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7000);
    assert.equal(parseRetryAfter('1.5'), 1500);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    const now = Date.parse('2030-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:09 GMT', now), 9000);
  });
});

describe('GatewayClient on a fake socket', () => {
  it('connects with the token in the header, the codec subprotocol and no resume on the first link', async () => {
    const { client, last } = fakeClient();
    const connected = client.connect();
    const s = last();
    assert.equal(s.request.headers.Authorization, 'Bearer static-token');
    assert.deepEqual(s.request.protocols, ['gateway.json']);
    assert.equal(s.url.searchParams.has('resume'), false);
    s.accept('sid-1', 'node-a');
    const info = await connected;
    assert.equal(info.sid, 'sid-1');
    assert.equal(client.state, 'connected');
  });

  it('passes the token as subprotocol bearer.<jwt> or ?token= when asked (browsers cannot set headers)', () => {
    const a = fakeClient({ tokenVia: 'protocol' });
    void a.client.connect();
    assert.deepEqual(a.last().request.protocols, ['gateway.json', 'bearer.static-token']);
    assert.deepEqual(a.last().request.headers, {});
    const b = fakeClient({ tokenVia: 'query', codec: 'protobuf' });
    void b.client.connect();
    assert.equal(b.last().url.searchParams.get('token'), 'static-token');
    assert.deepEqual(b.last().request.protocols, ['gateway.protobuf']);
  });

  it('request resolves with its ack (any code), is queued while connecting, and times out with a clear error', async () => {
    const { client, last, clock } = fakeClient({ requestTimeoutMs: 1000 });
    void client.connect();
    const early = client.request({ q: 1 });
    assert.equal(last().sent.length, 0, 'nothing is sent before connected');
    last().accept();
    const [req] = last().framesOf('req');
    assert.deepEqual(req.body, { q: 1 });
    last().frame({ type: 'ack', id: req.id, code: 0, body: { a: 1 } });
    assert.deepEqual(await early, { code: 0, body: { a: 1 } });

    const refused = client.request('x');
    const id = last().framesOf('req')[1].id;
    last().frame({ type: 'ack', id, code: 503, msg: 'busy' });
    assert.deepEqual(await refused, { code: 503, msg: 'busy' });

    const slow = client.request('never answered', { timeoutMs: 300 });
    clock.advance(299);
    let settled = false;
    slow.catch(() => (settled = true));
    await flush();
    assert.equal(settled, false);
    clock.advance(1);
    await assert.rejects(slow, (e: GatewayClientError) => e.code === 'timeout' && /no ack for r3 within 300 ms/.test(e.message));
  });

  it('rejects requests in flight with link_closed when the link drops, keeps unsent ones for the next link', async () => {
    const { client, last, clock } = fakeClient();
    void client.connect();
    last().accept();
    const inflight = client.request(1);
    last().serverClose(1006);
    const queued = client.request(2);
    await assert.rejects(inflight, (e: GatewayClientError) => e.code === 'link_closed');
    clock.runNext();
    last().accept('s2');
    const [req] = last().framesOf('req');
    assert.equal(req.body, 2);
    last().frame({ type: 'ack', id: req.id, code: 0, body: 'ok' });
    assert.deepEqual(await queued, { code: 0, body: 'ok' });
  });

  it('reconnects after 1006 with backoff and ?resume=<epoch>:<seq> of the last push', async () => {
    const { client, last, sockets, clock } = fakeClient({ minReconnectDelay: 500, maxReconnectDelay: 20000 });
    const states: ClientState[] = [];
    client.on('state', (s) => states.push(s));
    const disconnects: DisconnectInfo[] = [];
    client.on('disconnected', (d) => disconnects.push(d));
    void client.connect();
    last().accept();
    last().frame({ type: 'push', mid: 'm1', body: 1, epoch: 'E1', seq: 1 });
    last().frame({ type: 'push', mid: 'm2', body: 2, epoch: 'E1', seq: 2 });
    last().serverClose(1006);
    assert.deepEqual(disconnects, [{ code: 1006, reason: '', willReconnect: true, delayMs: 750 }]);
    clock.advance(749);
    assert.equal(sockets.length, 1, 'not before the backoff delay');
    clock.advance(1);
    assert.equal(sockets.length, 2);
    assert.equal(last().url.searchParams.get('resume'), 'E1:2');
    // the second attempt fails too: the next delay comes from a doubled window
    last().serverClose(1006);
    assert.equal(clock.nextDue(), 1000);
    clock.advance(1000);
    last().accept();
    assert.deepEqual(states, ['connecting', 'connected', 'disconnected', 'connecting', 'disconnected', 'connecting', 'connected']);
    assert.deepEqual(client.connection?.resumedFrom, { epoch: 'E1', seq: 2 });
  });

  it('resumes with ?resume= (everything stored) after a link that got no push', () => {
    const { client, last, clock } = fakeClient();
    void client.connect();
    last().accept();
    last().serverClose(1011);
    clock.runNext();
    assert.equal(last().url.searchParams.get('resume'), '');
  });

  it('drops a replayed push whose seq is not newer than the cursor, and counts it', () => {
    const { client, last, clock } = fakeClient();
    const got: Push[] = [];
    client.on('push', (p) => got.push(p));
    void client.connect();
    last().accept();
    for (const seq of [1, 2, 3]) last().frame({ type: 'push', mid: `m${seq}`, body: seq, epoch: 'E', seq });
    last().serverClose(4008, 'slow consumer');
    clock.runNext();
    last().accept('s2');
    for (const seq of [2, 3, 4]) last().frame({ type: 'push', mid: `m${seq}`, body: seq, epoch: 'E', seq });
    // room pushes carry no seq: never dropped
    last().frame({ type: 'push', mid: 'r1', body: 'room', room: 'lobby' });
    assert.deepEqual(
      got.map((p) => p.mid),
      ['m1', 'm2', 'm3', 'm4', 'r1'],
    );
    assert.equal(client.duplicatesDropped, 2);
    assert.deepEqual(client.cursor, { epoch: 'E', seq: 4 });
    // acks: one per push delivered (autoAck), none for the dropped ones
    assert.deepEqual(
      last()
        .framesOf('ack-push')
        .map((f) => f.mid),
      ['m4', 'r1'],
    );
  });

  it('surfaces resync and moves its cursor to (epoch, seq); a new epoch is then accepted', () => {
    const { client, last } = fakeClient({ cursor: { epoch: 'old', seq: 9 } });
    const resyncs: ResyncInfo[] = [];
    const got: number[] = [];
    client.on('resync', (r) => resyncs.push(r));
    client.on('push', (p) => got.push(p.seq!));
    void client.connect();
    assert.equal(last().url.searchParams.get('resume'), 'old:9', 'a saved cursor resumes the first link');
    last().accept();
    last().frame({ type: 'resync', reason: 'epoch_changed', epoch: 'new', seq: 0 });
    last().frame({ type: 'push', mid: 'a', body: 1, epoch: 'new', seq: 1 });
    assert.deepEqual(resyncs, [{ reason: 'epoch_changed', epoch: 'new', seq: 0, previous: { epoch: 'old', seq: 9 } }]);
    assert.deepEqual(got, [1]);
    assert.deepEqual(client.cursor, { epoch: 'new', seq: 1 });
  });

  it('autoAck false: no ack-push until ackPush(mid)', () => {
    const { client, last } = fakeClient({ autoAck: false });
    void client.connect();
    last().accept();
    last().frame({ type: 'push', mid: 'm1', body: 1 });
    assert.equal(last().framesOf('ack-push').length, 0);
    assert.equal(client.ackPush('m1'), true);
    assert.deepEqual(last().framesOf('ack-push'), [{ type: 'ack-push', mid: 'm1' }]);
  });

  describe('close codes', () => {
    it('4003 kicked: no reconnect, state closed, disconnected with the code and reason, pending requests rejected', async () => {
      const { client, last, sockets, clock } = fakeClient();
      const disconnects: DisconnectInfo[] = [];
      client.on('disconnected', (d) => disconnects.push(d));
      void client.connect();
      last().accept();
      const inflight = client.request('x');
      last().serverClose(4003, 'operator said so');
      assert.equal(client.state, 'closed');
      assert.deepEqual(disconnects, [{ code: 4003, reason: 'operator said so', willReconnect: false }]);
      await assert.rejects(inflight);
      clock.advance(10 * 60_000);
      assert.equal(sockets.length, 1, 'never reconnects after a kick');
      await assert.rejects(client.request('after'), (e: GatewayClientError) => e.code === 'client_closed');
      await assert.rejects(client.connect(), (e: GatewayClientError) => e.code === 'client_closed');
    });

    for (const code of [4001, 4002]) {
      it(`${code} with a fixed token: stop; with getToken: reconnect at once with a fresh token`, async () => {
        const fixed = fakeClient();
        void fixed.client.connect();
        fixed.last().accept();
        fixed.last().serverClose(code, 'token');
        assert.equal(fixed.client.state, 'closed');
        fixed.clock.advance(60_000);
        assert.equal(fixed.sockets.length, 1);

        let n = 0;
        const fresh = fakeClient({ token: undefined, getToken: () => `t${++n}` });
        void fresh.client.connect();
        await flush();
        fresh.last().accept();
        fresh.last().serverClose(code, 'token');
        assert.equal(fresh.client.state, 'disconnected');
        fresh.clock.advance(0);
        await flush();
        assert.equal(fresh.sockets.length, 2);
        assert.equal(fresh.last().request.headers.Authorization, 'Bearer t2');
      });
    }

    it('redirect then 4010: reconnects at once to the redirect url with the cursor; later drops go back there first, then to the configured url', () => {
      const { client, last, sockets, clock } = fakeClient();
      const redirects: string[] = [];
      client.on('redirect', (r) => redirects.push(r.url));
      void client.connect();
      last().accept('s1', 'a');
      last().frame({ type: 'push', mid: 'm1', body: 1, epoch: 'E', seq: 5 });
      last().frame({ type: 'redirect', url: 'ws://peer.test/ws', reason: 'rebalance' });
      last().serverClose(4010, 'moved');
      assert.deepEqual(redirects, ['ws://peer.test/ws']);
      clock.advance(0);
      assert.equal(sockets.length, 2);
      assert.equal(last().url.host, 'peer.test');
      assert.equal(last().url.searchParams.get('resume'), 'E:5');
      last().accept('s2', 'b');
      last().serverClose(1006);
      clock.runNext();
      assert.equal(last().url.host, 'peer.test', 'the node of the last link is tried first');
      last().serverClose(1006);
      clock.runNext();
      assert.equal(last().url.host, 'gw.test', 'after a failed attempt there, the configured url');
    });

    it('followRedirects false: a redirect still reconnects at once, with the cursor, but to the configured url', () => {
      const { client, last, sockets, clock } = fakeClient({ followRedirects: false });
      const redirects: string[] = [];
      client.on('redirect', (r) => redirects.push(r.url));
      void client.connect();
      last().accept('s1', 'a');
      last().frame({ type: 'push', mid: 'm1', body: 1, epoch: 'E', seq: 5 });
      last().frame({ type: 'redirect', url: 'ws://peer.test/ws', reason: 'drain' });
      last().serverClose(4010, 'moved');
      assert.deepEqual(redirects, ['ws://peer.test/ws'], 'the event still names where the node wanted it');
      clock.advance(0);
      assert.equal(sockets.length, 2);
      assert.equal(last().url.host, 'gw.test');
      assert.equal(last().url.searchParams.get('resume'), 'E:5');
    });

    it('1001 without a redirect: reconnects at once (to the configured url), then with backoff', () => {
      const { client, last, sockets, clock } = fakeClient();
      void client.connect();
      last().accept();
      last().serverClose(1001, 'shutdown');
      clock.advance(0);
      assert.equal(sockets.length, 2);
      last().serverClose(1006);
      assert.ok(clock.nextDue()! >= 500, 'a failed attempt after that backs off');
    });
  });

  describe('refusals at the upgrade (Node sees the HTTP status)', () => {
    it('503 with Retry-After: the next attempt waits at least Retry-After', () => {
      const { client, last, sockets, clock } = fakeClient({ minReconnectDelay: 500 });
      const errors: GatewayClientError[] = [];
      client.on('error', (e) => errors.push(e));
      void client.connect();
      last().refuse({ status: 503, retryAfterMs: 7000, body: { error: 'draining', message: 'node is draining', peer: null } });
      assert.equal(errors[0].code, 'refused');
      assert.equal(errors[0].details.status, 503);
      clock.advance(6999);
      assert.equal(sockets.length, 1, 'Retry-After not honoured');
      clock.advance(251); // 7000 + 0.5 * 500 of spread
      assert.equal(sockets.length, 2);
    });

    it('429 with Retry-After is honoured the same way', () => {
      const { client, last, sockets, clock } = fakeClient();
      void client.connect();
      last().refuse({ status: 429, retryAfterMs: 3000, body: { error: 'rate_limited' } });
      clock.advance(2999);
      assert.equal(sockets.length, 1);
      clock.advance(500);
      assert.equal(sockets.length, 2);
    });

    it('503 naming a peer: straight to the peer, at most three in a row', () => {
      const { client, last, sockets, clock } = fakeClient();
      void client.connect();
      for (let i = 0; i < 3; i++) {
        last().refuse({ status: 503, retryAfterMs: 5000, body: { error: 'shedding', peer: { node: `p${i}`, url: `ws://p${i}.test/ws` } } });
        clock.advance(0);
        assert.equal(last().url.host, `p${i}.test`);
      }
      last().refuse({ status: 503, retryAfterMs: 5000, body: { error: 'shedding', peer: { node: 'p9', url: 'ws://p9.test/ws' } } });
      clock.advance(4999);
      assert.equal(sockets.length, 4, 'a fourth peer in a row waits out Retry-After');
    });

    it('401 without getToken stops (closed); with getToken retries with a new token', async () => {
      const a = fakeClient();
      const done = a.client.connect();
      a.last().refuse({ status: 401, body: { error: 'unauthorized', message: 'jwt expired' } });
      await assert.rejects(done, /401/);
      assert.equal(a.client.state, 'closed');
      a.clock.advance(60_000);
      assert.equal(a.sockets.length, 1);

      let n = 0;
      const b = fakeClient({ token: undefined, getToken: async () => `t${++n}` });
      void b.client.connect();
      await flush();
      b.last().refuse({ status: 401, body: { error: 'unauthorized' } });
      b.clock.runNext();
      await flush();
      assert.equal(b.sockets.length, 2);
      assert.equal(b.last().request.headers.Authorization, 'Bearer t2');
    });

    it('maxReconnectAttempts: gives up and closes', async () => {
      const { client, last, clock } = fakeClient({ maxReconnectAttempts: 2 });
      const done = client.connect();
      last().serverClose(1006);
      clock.runNext();
      last().serverClose(1006);
      await assert.rejects(done, /gave up after 2 failed attempts/);
      assert.equal(client.state, 'closed');
    });
  });

  describe('token refresh with getToken', () => {
    it('sends a token frame tokenRefreshLeadMs before exp, then again before the new exp', async () => {
      let n = 0;
      const issued: number[] = [];
      const { client, last, clock } = fakeClient({
        token: undefined,
        tokenRefreshLeadMs: 30_000,
        getToken: () => {
          issued.push(clock.now());
          return fakeJwt({ sub: 'u', n: ++n, exp: Math.floor(clock.now() / 1000) + 120 });
        },
      });
      void client.connect();
      await flush();
      last().accept();
      clock.advance(89_999);
      await flush();
      assert.equal(last().framesOf('token').length, 0, 'not before exp - lead');
      clock.advance(1);
      await flush();
      const frames = last().framesOf('token');
      assert.equal(frames.length, 1);
      assert.equal(tokenExpiry(frames[0].token as string), Math.floor(clock.now() / 1000) * 1000 + 120_000);
      clock.advance(90_000);
      await flush();
      assert.equal(last().framesOf('token').length, 2);
      assert.equal(issued.length, 3);
    });

    it('a short token is refreshed half-way through what is left', () => {
      assert.equal(refreshDelay(10_000, 8_000, 30_000), 1_000);
      assert.equal(refreshDelay(100_000, 0, 30_000), 70_000);
      assert.equal(refreshDelay(5_000, 6_000, 30_000), 0);
    });

    it('a fixed token is never refreshed', () => {
      const { client, last, clock } = fakeClient({ token: fakeJwt({ exp: Math.floor(Date.now() / 1000) + 60 }) });
      void client.connect();
      last().accept();
      clock.advance(120_000);
      assert.equal(last().framesOf('token').length, 0);
    });
  });

  it('drops a silent link after two ping intervals and reconnects', () => {
    const { client, last, sockets, clock } = fakeClient({ pingIntervalMs: 1000 });
    void client.connect();
    last().accept();
    clock.advance(1000);
    assert.equal(last().framesOf('ping').length, 1);
    last().frame({ type: 'pong', ts: 1 });
    clock.advance(1000);
    assert.equal(last().ended, false, 'a pong kept it alive');
    clock.advance(2000);
    assert.equal(sockets[0].ended, true, 'silent for two intervals: dropped');
    clock.runNext();
    assert.equal(sockets.length, 2);
  });

  it('join resolves with its ack, the room is rejoined on the next link; leave forgets it', async () => {
    const { client, last, clock } = fakeClient();
    void client.connect();
    last().accept();
    const joined = client.join('lobby');
    assert.deepEqual(last().framesOf('join'), [{ type: 'join', room: 'lobby' }]);
    last().frame({ type: 'ack', id: 'join:lobby', code: 0 });
    assert.deepEqual(await joined, { code: 0 });
    last().serverClose(1006);
    clock.runNext();
    last().accept('s2');
    assert.deepEqual(last().framesOf('join'), [{ type: 'join', room: 'lobby' }]);
    last().frame({ type: 'ack', id: 'join:lobby', code: 0 });
    const left = client.leave('lobby');
    last().frame({ type: 'ack', id: 'leave:lobby', code: 0 });
    assert.equal((await left).code, 0);
    last().serverClose(1006);
    clock.runNext();
    last().accept('s3');
    assert.equal(last().framesOf('join').length, 0);
  });

  it('close() sends 1000, goes closed and never reconnects', async () => {
    const { client, last, sockets, clock } = fakeClient();
    void client.connect();
    last().accept();
    await client.close();
    assert.equal(last().closedWith?.code, 1000);
    assert.equal(client.state, 'closed');
    clock.advance(60_000);
    assert.equal(sockets.length, 1);
  });
});

describe('client codecs agree with the node codecs', () => {
  const node = new ProtobufCodec();
  it('protobuf: a node push decodes with its seq/epoch/body; a client req decodes on the node', () => {
    const wire = node.encode({ type: 'push', mid: 'm', body: { a: [1, 'x'] }, seq: 42, epoch: 'E7' });
    assert.deepEqual(protobufCodec.decode(new Uint8Array(wire)), { type: 'push', mid: 'm', body: { a: [1, 'x'] }, seq: 42, epoch: 'E7' });
    const ack = node.encode({ type: 'ack', id: 'r1', code: 504, msg: 'timeout' });
    assert.deepEqual(protobufCodec.decode(new Uint8Array(ack)), { type: 'ack', id: 'r1', code: 504, msg: 'timeout' });
    const req = protobufCodec.encode({ type: 'req', id: 'r2', body: { q: true } });
    assert.deepEqual(node.decode(Buffer.from(req)), { type: 'req', id: 'r2', body: { q: true } });
    const ap = protobufCodec.encode({ type: 'ack-push', mid: 'm9' });
    assert.deepEqual(node.decode(Buffer.from(ap)), { type: 'ack-push', mid: 'm9' });
  });
  it('json: unknown frame types are ignored, malformed known ones throw', () => {
    assert.equal(jsonCodec.decode('{"type":"from-the-future"}'), undefined);
    assert.throws(() => jsonCodec.decode('{"type":"push"}'), /mid/);
    assert.throws(() => jsonCodec.decode('[1]'), /not a JSON object/);
  });
});
