import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { AckCode, JoinDecision, UplinkBackend, UplinkReply } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { loadConfig } from '../../config/config.loader';
import { GatewayConfig } from '../../config/gateway.config';
import type { Link } from '../../link/link';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { RequestHandler } from './request.handler';

const metrics = new GatewayMetrics();
after(() => metrics.close());

/** a backend whose answers the test gives, one per request, when it likes */
class HeldBackend extends UplinkBackend {
  readonly held: ((r: UplinkReply) => void)[] = [];
  request(): Promise<UplinkReply> {
    return new Promise((resolve) => this.held.push(resolve));
  }
  async authorizeJoin(): Promise<JoinDecision> {
    return { allowed: true };
  }
}

function setup(env: Record<string, string> = {}) {
  const { config } = loadConfig({ cwd: '/', env: { GATEWAY_BACKEND_TIMEOUT_MS: '1000', ...env } });
  const backend = new HeldBackend();
  const handler = new RequestHandler(backend, metrics, config as GatewayConfig);
  const sent: Frame[] = [];
  const link = { id: 'l1', inflight: 0, session: { bizId: 'b' }, send: (f: Frame) => sent.push(f) } as unknown as Link;
  after(() => handler.onModuleDestroy());
  return { backend, handler, sent, link };
}

const acks = (sent: Frame[]) => sent.filter((f): f is Extract<Frame, { type: 'ack' }> => f.type === 'ack');

describe('RequestHandler', () => {
  it("answers each req once with the backend's reply, and the guard later sends nothing", async () => {
    const { backend, handler, sent, link } = setup();
    const done = handler.handle(link, { type: 'req', id: 'r1', body: { a: 1 } });
    backend.held[0]({ code: 7, body: { ok: true } });
    await done;
    handler.sweep(Date.now() + 60_000);
    assert.deepEqual(acks(sent), [{ type: 'ack', id: 'r1', code: 7, body: { ok: true } }]);
  });

  it('a backend that never answers: the guard acks 504 past timeoutMs + 1 s, and a late answer is dropped', async () => {
    const { backend, handler, sent, link } = setup();
    const t0 = Date.now();
    const done = handler.handle(link, { type: 'req', id: 'r1', body: null });
    handler.sweep(t0 + 1500); // past timeoutMs, not yet its extra second: nothing yet
    assert.equal(acks(sent).length, 0);
    handler.sweep(t0 + 60_000);
    assert.deepEqual(
      acks(sent).map((a) => [a.id, a.code]),
      [['r1', AckCode.TIMEOUT]],
    );
    backend.held[0]({ code: 0 });
    await done;
    assert.equal(acks(sent).length, 1, 'exactly one ack per req');
  });

  it('past link.maxInflightRequests the next req gets 429, and the slot frees when an ack goes out', async () => {
    const { backend, handler, sent, link } = setup({ GATEWAY_LINK_MAX_INFLIGHT_REQUESTS: '2' });
    const first = handler.handle(link, { type: 'req', id: 'a', body: null });
    void handler.handle(link, { type: 'req', id: 'b', body: null });
    await handler.handle(link, { type: 'req', id: 'c', body: null });
    assert.deepEqual(
      acks(sent).map((a) => [a.id, a.code]),
      [['c', AckCode.TOO_MANY]],
    );
    backend.held[0]({ code: 0 });
    await first;
    const again = handler.handle(link, { type: 'req', id: 'd', body: null });
    assert.equal(backend.held.length, 3, 'the freed slot took the next req to the backend');
    backend.held[2]({ code: 0 });
    await again;
  });
});
