import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { JsonCodec } from '../codec/json.codec';
import type { Session } from '../session/session';
import { Link, LinkOwner } from './link';

/** Just enough of a ws socket to watch what a link writes, and how. */
class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  corks = 0;
  closed?: [number, string];
  _socket = { cork: () => this.corks++, uncork: () => undefined };
  send(data: string) {
    this.sent.push(data);
  }
  close(code: number, reason: string) {
    this.closed = [code, reason];
  }
  terminate() {
    this.readyState = 3;
  }
}

const session: Session = { sid: 's1', bizId: 'b', userId: 'u', ip: '127.0.0.1', node: 'n', connectedAt: 0 };

function setup(max = 1000) {
  const ws = new FakeSocket();
  const dirty: Link[] = [];
  const slow: Link[] = [];
  const out = { frames: 0, bytes: 0 };
  const owner: LinkOwner = {
    sendQueueMaxBytes: max,
    markDirty: (l) => dirty.push(l),
    onSlow: (l) => slow.push(l),
    countOut: (f, b) => {
      out.frames += f;
      out.bytes += b;
    },
  };
  const link = new Link(ws as unknown as WebSocket, session, new JsonCodec(), Infinity, owner);
  return { ws, link, dirty, slow, out };
}

describe('link', () => {
  it('coalesces a burst into one corked flush and marks itself dirty once', () => {
    const { ws, link, dirty, out } = setup();
    for (let i = 0; i < 5; i++) assert.equal(link.send({ type: 'push', mid: String(i), body: i }), true);
    assert.equal(dirty.length, 1);
    assert.equal(ws.sent.length, 0);
    link.flush();
    assert.equal(ws.corks, 1);
    assert.deepEqual(
      ws.sent.map((s) => JSON.parse(s).mid),
      ['0', '1', '2', '3', '4'],
    );
    assert.equal(out.frames, 5);
    assert.equal(
      out.bytes,
      ws.sent.reduce((a, s) => a + Buffer.byteLength(s), 0),
    );
  });

  it('refuses past its bound (queue plus socket buffer) and reports itself slow', () => {
    const { ws, link, slow } = setup(300);
    ws.bufferedAmount = 200;
    assert.equal(link.sendEncoded('x'.repeat(90)), true);
    assert.equal(link.sendEncoded('x'.repeat(20)), false);
    assert.deepEqual(slow, [link]);
  });

  it('flushes what is queued before the close handshake, and sends nothing after', () => {
    const { ws, link } = setup();
    link.send({ type: 'redirect', url: 'ws://x/ws', reason: 'drain' });
    link.close(1001, 'bye');
    assert.equal(ws.sent.length, 1);
    assert.deepEqual(ws.closed, [1001, 'bye']);
    assert.equal(link.send({ type: 'ping' }), false);
  });
});
