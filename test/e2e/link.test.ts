import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/link/close-codes';
import { metricValue, scrape } from '../fixtures/admin';
import { GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken, shortToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 20000 };
const H = { timeout: 40000 };
const HEARTBEAT_MS = 300;
const MAX_PAYLOAD = 4096;

describe('link behaviour (one node, heartbeat 300 ms, max payload 4 KiB)', () => {
  const prefixes = uniquePrefixes('link');
  let gw: GatewayProcess;
  const clients: TestClient[] = [];
  const open = async (claims: Parameters<typeof hsToken>[0] = {}, opts: Parameters<typeof TestClient.open>[1] = {}) => {
    const r = await TestClient.open(gw.wsUrl, {
      token: hsToken({ sub: 'u1', biz: 'b1', ...claims }),
      ...opts,
    });
    clients.push(r.client);
    return r;
  };

  before(async () => {
    gw = await startGateway({
      ...prefixes,
      GATEWAY_LINK_HEARTBEAT_MS: String(HEARTBEAT_MS),
      GATEWAY_LINK_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
    });
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
    await cleanupPrefixes(prefixes);
  }, H);

  it('answers req with the ack of the same id and the echoed body', T, async () => {
    const { client, connected } = await open();
    assert.equal(connected.heartbeatMs, HEARTBEAT_MS);
    client.sendRaw('{"type":"req","id":"1","body":{"x":1}}');
    assert.deepEqual(await client.next('ack'), {
      type: 'ack',
      id: '1',
      code: 0,
      body: { x: 1 },
    });
    client.send({ type: 'req', id: 'second', body: ['a', { b: null }] });
    assert.deepEqual(await client.next('ack'), {
      type: 'ack',
      id: 'second',
      code: 0,
      body: ['a', { b: null }],
    });
  });

  it('answers a frame that is not JSON with an error frame 400 and keeps the link usable', T, async () => {
    const { client } = await open();
    client.sendRaw('{"type":"req", this is not json');
    const err = await client.next('error');
    assert.equal(err.code, 400);
    assert.equal(typeof err.msg, 'string');
    client.sendRaw('{"type":"no-such-type"}');
    assert.equal((await client.next('error')).code, 400);
    assert.deepEqual(await client.request('after-bad', { ok: true }), {
      type: 'ack',
      id: 'after-bad',
      code: 0,
      body: { ok: true },
    });
    assert.equal(client.isClosed, false);
  });

  it('speaks protobuf when the client offers the gateway.protobuf subprotocol', T, async () => {
    const client = await TestClient.connect(gw.wsUrl, {
      token: hsToken({ sub: 'u-pb', biz: 'b1' }),
      protocols: ['gateway.protobuf'],
    });
    clients.push(client);
    assert.equal(client.protocol, 'gateway.protobuf');
    const connected = await client.next('connected');
    assert.equal(connected.node, gw.nodeId);
    assert.equal(connected.heartbeatMs, HEARTBEAT_MS);
    assert.equal(typeof connected.sid, 'string');
    const ack = await client.request('pb-1', { x: 1, s: 'ü' });
    assert.deepEqual({ ...ack }, { type: 'ack', id: 'pb-1', code: 0, body: { x: 1, s: 'ü' } });
    client.send({ type: 'ping', ts: 7 });
    assert.equal((await client.next('pong')).ts, 7);
    // recorded by the client from the first frame on, so `connected` cannot slip past a late listener
    assert.deepEqual(client.binaryFlags, [true, true, true], 'every server frame is a binary protobuf message');
  });

  it('answers an app-level ping with a pong carrying the same ts', T, async () => {
    const { client } = await open();
    client.sendRaw('{"type":"ping","ts":5}');
    assert.deepEqual(await client.next('pong'), { type: 'pong', ts: 5 });
  });

  it('terminates a peer that stops answering pings, and only that one', T, async () => {
    const before = metricValue(await scrape(gw.adminUrl), 'websocket_gateway_heartbeat_timeouts_total');
    const { client: normal } = await open({ sub: 'hb-normal' });
    const { client: silent } = await open({ sub: 'hb-silent' }, { autoPong: false });
    const started = Date.now();
    const { code } = await silent.closed;
    const elapsed = Date.now() - started;
    assert.equal(code, 1006, 'dropped without a closing handshake');
    assert.ok(elapsed < 2500, `terminated after ${elapsed} ms (heartbeat ${HEARTBEAT_MS} ms)`);
    assert.ok(elapsed >= HEARTBEAT_MS, `terminated after only ${elapsed} ms`);
    // the answering peer lived through the same period
    assert.equal(normal.isClosed, false);
    assert.deepEqual(await normal.request('alive', 1), {
      type: 'ack',
      id: 'alive',
      code: 0,
      body: 1,
    });
    const afterCount = metricValue(await scrape(gw.adminUrl), 'websocket_gateway_heartbeat_timeouts_total');
    assert.equal(afterCount, before + 1);
  });

  it('closes a link that sends a frame over the payload limit with 1009, and keeps serving', T, async () => {
    const { client } = await open({ sub: 'big' });
    client.send({
      type: 'req',
      id: 'big',
      body: 'x'.repeat(MAX_PAYLOAD + 1),
    });
    assert.equal((await client.closed).code, CloseCode.TOO_BIG);
    // a frame just under the limit is fine on another link
    const { client: other } = await open({ sub: 'big' });
    const body = 'y'.repeat(MAX_PAYLOAD - 100);
    assert.deepEqual(await other.request('fits', body), {
      type: 'ack',
      id: 'fits',
      code: 0,
      body,
    });
  });

  it('closes a link whose token expires with 4001', T, async () => {
    const { token, expiresAt } = shortToken({ sub: 'exp-1', biz: 'b1' }, 1200);
    const { client } = await TestClient.open(gw.wsUrl, { token });
    clients.push(client);
    const { code } = await client.closed;
    const closedAt = Date.now();
    assert.equal(code, CloseCode.TOKEN_EXPIRED);
    assert.ok(closedAt >= expiresAt - 50, `closed ${expiresAt - closedAt} ms before the token expired`);
    assert.ok(closedAt <= expiresAt + 1500, `closed ${closedAt - expiresAt} ms after the token expired`);
  });

  it('keeps a link open past its first expiry once it sent a fresh token', T, async () => {
    const { token, expiresAt } = shortToken({ sub: 'exp-2', biz: 'b1' }, 1200);
    const { client: control } = await TestClient.open(gw.wsUrl, { token });
    const { client: refreshed } = await TestClient.open(gw.wsUrl, { token });
    clients.push(control, refreshed);
    refreshed.send({
      type: 'token',
      token: hsToken({ sub: 'exp-2', biz: 'b1', expiresInSec: 300 }),
    });
    // the control link with the same token is the clock: once it is closed, the first expiry has passed
    assert.equal((await control.closed).code, CloseCode.TOKEN_EXPIRED);
    assert.ok(Date.now() >= expiresAt - 50);
    assert.deepEqual(await refreshed.request('still-here', 1), {
      type: 'ack',
      id: 'still-here',
      code: 0,
      body: 1,
    });
    assert.equal(refreshed.isClosed, false);
  });

  it('closes with 4002 when a refresh names another user', T, async () => {
    const { client } = await open({ sub: 'exp-3' });
    client.send({
      type: 'token',
      token: hsToken({ sub: 'someone-else', biz: 'b1' }),
    });
    const { code, reason } = await client.closed;
    assert.equal(code, CloseCode.TOKEN_REJECTED);
    assert.match(reason, /another user/);
  });
});
