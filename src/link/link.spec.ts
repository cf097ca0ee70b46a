import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { JsonCodec } from '../codec/json.codec';
import type { Session } from '../session/session';
import { Link, LinkOwner } from './link';
import { wsFrame } from './ws-frame';
import { receiveMessages } from './ws-frame.testing';

/** The text messages in what a link wrote to its socket, parsed as a client would. */
const messages = (writes: Buffer[]): string[] => receiveMessages(writes).map((m) => m.data.toString());

/** Just enough of a ws socket, and of the TCP socket under it, to watch what a link writes, and how. */
class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  /** each write() to the TCP socket */
  writes: Buffer[] = [];
  corks = 0;
  closed?: [number, string];
  tcp = { writableLength: 0, cork: () => this.corks++, uncork: () => undefined, write: (b: Buffer) => this.writes.push(b) };
  get sent(): string[] {
    return messages(this.writes);
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
  const link = new Link(ws as unknown as WebSocket, ws.tcp as unknown as Duplex, session, new JsonCodec(), Infinity, owner);
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
      ws.writes.reduce((a, b) => a + b.length, 0),
    );
  });

  it('writes a single frame without corking', () => {
    const { ws, link } = setup();
    link.send({ type: 'pong' });
    link.flush();
    assert.equal(ws.corks, 0);
    assert.equal(ws.writes.length, 1);
    assert.deepEqual(JSON.parse(ws.sent[0]), { type: 'pong' });
  });

  it('refuses past its bound (queue plus socket buffer) and reports itself slow', () => {
    const { ws, link, slow } = setup(300);
    ws.bufferedAmount = 200;
    assert.equal(link.sendFrame(wsFrame('x'.repeat(88), false)), true);
    assert.equal(link.sendFrame(wsFrame('x'.repeat(18), false)), false);
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
