import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { from, Observable } from 'rxjs';
import { JsonCodec } from '../codec/json.codec';
import type { Frame } from '../codec/frame';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { GatewayWsAdapter } from './gateway-ws.adapter';
import { LinkState, type Link } from './link';
import { LinkManager } from './link.manager';

const metrics = new GatewayMetrics();
after(() => metrics.close());

/** a ws socket as far as the inbox uses it: message events, pause and resume */
class FakeWs extends EventEmitter {
  paused = 0;
  resumed = 0;
  pause() {
    this.paused++;
  }
  resume() {
    this.resumed++;
  }
  frame(f: object) {
    this.emit('message', Buffer.from(JSON.stringify(f)), false);
  }
}

function setup() {
  const ws = new FakeWs();
  const sent: Frame[] = [];
  const link = { id: 's1', ws, codec: new JsonCodec(), state: LinkState.OPEN, send: (f: Frame) => sent.push(f) > 0 } as unknown as Link;
  const links = { heard: () => undefined } as unknown as LinkManager;
  const app = { get: (token: unknown) => (token === LinkManager ? links : token === GatewayMetrics ? metrics : undefined) };
  const adapter = new GatewayWsAdapter(app as never);
  // what Nest's WebSocketsController passes: the handler's result, promise or value, as an observable
  const transform = (result: unknown): Observable<unknown> => from(Promise.resolve(result));
  const bind = (handlers: Record<string, (frame: Frame) => unknown>) =>
    adapter.bindMessageHandlers(
      link,
      Object.entries(handlers).map(([message, callback]) => ({ message, callback }) as unknown as MessageMappingProperties),
      transform,
    );
  return { ws, sent, bind };
}

/** a promise released from outside */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** resolves once `n` frames were sent (polling the array each macrotask, never a fixed delay) */
async function sentCount(sent: unknown[], n: number) {
  while (sent.length < n) await new Promise((r) => setImmediate(r));
}

describe('gateway ws adapter: inbound frames', () => {
  it('handles one link frame after frame, in arrival order, even when a handler is slow', async () => {
    const { ws, sent, bind } = setup();
    const started: string[] = [];
    const joinGate = gate();
    bind({
      join: async (f) => {
        started.push(`join:${(f as { room: string }).room}`);
        await joinGate.promise;
        return { type: 'ack', id: 'join', code: 0 };
      },
      leave: (f) => {
        started.push(`leave:${(f as { room: string }).room}`);
        return { type: 'ack', id: 'leave', code: 0 };
      },
      ping: () => ({ type: 'pong', ts: 1 }),
    });
    ws.frame({ type: 'join', room: 'r' });
    ws.frame({ type: 'leave', room: 'r' });
    ws.frame({ type: 'ping' });
    ws.emit('message', Buffer.from('not json'), false);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['join:r'], 'leave must wait for join to finish');
    assert.equal(sent.length, 0);
    joinGate.open();
    await sentCount(sent, 4);
    assert.deepEqual(started, ['join:r', 'leave:r']);
    assert.deepEqual(
      sent.map((f) => (f.type === 'ack' ? `ack:${f.id}` : f.type)),
      ['ack:join', 'ack:leave', 'pong', 'error'],
    );
  });

  it('answers a failing handler with error 500 and goes on with the next frame', async () => {
    const { ws, sent, bind } = setup();
    bind({
      join: () => {
        throw new Error('boom');
      },
      ping: () => ({ type: 'pong', ts: 2 }),
    });
    ws.frame({ type: 'join', room: 'r' });
    ws.frame({ type: 'ping' });
    await sentCount(sent, 2);
    assert.deepEqual(sent, [
      { type: 'error', code: 500, msg: 'internal error' },
      { type: 'pong', ts: 2 },
    ]);
  });

  it('refuses server-only and unhandled frame types in order, without a handler', async () => {
    const { ws, sent, bind } = setup();
    bind({ ping: () => ({ type: 'pong', ts: 3 }) });
    ws.frame({ type: 'connected', sid: 'x', node: 'n', heartbeatMs: 1 });
    ws.frame({ type: 'resume', seq: 1 });
    ws.frame({ type: 'ping' });
    await sentCount(sent, 3);
    assert.deepEqual(
      sent.map((f) => [f.type, (f as { code?: number }).code]),
      [
        ['error', 400],
        ['error', 405],
        ['pong', undefined],
      ],
    );
  });

  it('stops reading the socket while too many frames wait behind a slow handler, and reads again once they are handled', async () => {
    const { ws, sent, bind } = setup();
    const slow = gate();
    let handled = 0;
    bind({
      join: async () => {
        await slow.promise;
        handled++;
      },
      ping: () => {
        handled++;
      },
    });
    ws.frame({ type: 'join', room: 'r' });
    for (let i = 0; i < 100; i++) ws.frame({ type: 'ping' });
    assert.equal(ws.paused, 1);
    assert.equal(ws.resumed, 0);
    slow.open();
    while (handled < 101) await new Promise((r) => setImmediate(r));
    assert.equal(ws.resumed, 1);
    assert.deepEqual(sent, []);
  });
});
